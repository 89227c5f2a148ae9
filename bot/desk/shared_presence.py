"""Presence shared by several kefu workers, in Redis: the same answers as `LocalPresence` and
`CustomerSightings` (bot.desk.presence), whichever worker an agent's console or a customer's
widget is connected to.

Each open console and each open widget stream is a lease: a time until which it counts as
open, renewed by its worker's `heartbeat` every few seconds. A worker that is killed renews
nothing, so its agents go offline and its customers count as gone once their leases run out
(`lease_s`). After a Redis restart that lost the data, the next heartbeat puts back what each
worker holds open. While Redis cannot be reached, what is written is dropped (the log
says so) and reads answer as if nobody were there and every customer still were: the
desk keeps working, and no customer leaves the queue for Redis's sake.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis
from redis.exceptions import RedisError

from bot.conversation.events import now
from bot.desk.presence import Clock, PresenceStatus

LEASE_S = 30.0  # heartbeats come every LEASE_S / 3 s
SEEN_KEPT_S = 7 * 24 * 3600  # a customer's last sighting is kept this long
RETRY_AFTER_S = 2.0  # Redis found unreachable is left alone this long
_SEP = "\x1f"

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _unless_unreachable(default: Any) -> Callable[[F], F]:
    """The method, or `default` (and a warning) when Redis cannot be reached; after a failure
    Redis is not tried again for RETRY_AFTER_S, so that requests (some on the event loop) do
    not each wait for a connection timeout."""

    def wrap(method: F) -> F:
        @functools.wraps(method)
        def tolerant(self: Any, *args: Any, **kwargs: Any) -> Any:
            if time.monotonic() < getattr(self, "_down_until", 0.0):
                return default
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as error:
                self._down_until = time.monotonic() + RETRY_AFTER_S
                log.warning("presence.redis_unavailable call=%s error=%s", method.__name__, error)
                return default

        return tolerant  # type: ignore[return-value]

    return wrap


def _seconds(at: datetime) -> float:
    return at.timestamp()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPresence:
    """AgentPresence in Redis, for several workers."""

    def __init__(
        self,
        client: redis.Redis,
        away_after: timedelta,
        *,
        prefix: str = "kefu",
        clock: Clock = now,
        lease_s: float = LEASE_S,
    ) -> None:
        self.client = client
        self.away_after = away_after
        self.clock = clock
        self.lease_s = lease_s
        self._consoles = f"{prefix}:presence:consoles"  # "user␟console" → lease end
        self._active = f"{prefix}:presence:active"  # user → last activity
        self._away = f"{prefix}:presence:away"  # users who said they are away
        self._logout = f"{prefix}:presence:logout"  # user → when they logged out
        self._mine: dict[str, tuple[str, float]] = {}  # console → (user, opened) held here
        self._lock = threading.Lock()

    def console_opened(self, username: str) -> str:
        console = uuid.uuid4().hex
        at = _seconds(self.clock())
        with self._lock:
            self._mine[console] = (username, at)
        self._write_lease(username, console, at)
        return console

    @_unless_unreachable(None)
    def _write_lease(self, username: str, console: str, at: float) -> None:
        """(Kept here if Redis is away: the next heartbeat writes it.)"""
        pipe = self.client.pipeline()
        pipe.zadd(self._consoles, {f"{username}{_SEP}{console}": at + self.lease_s})
        pipe.hset(self._active, username, at)
        pipe.execute()

    @_unless_unreachable(None)
    def console_closed(self, username: str, console: str) -> None:
        with self._lock:
            self._mine.pop(console, None)
        self.client.zrem(self._consoles, f"{username}{_SEP}{console}")
        if username not in self._open(_seconds(self.clock())):
            self.client.srem(self._away, username)

    @_unless_unreachable(None)
    def active(self, username: str) -> None:
        self.client.hset(self._active, username, _seconds(self.clock()))

    @_unless_unreachable(None)
    def set_away(self, username: str, away: bool) -> None:
        if away:
            self.client.sadd(self._away, username)
        else:
            pipe = self.client.pipeline()
            pipe.srem(self._away, username)
            pipe.hset(self._active, username, _seconds(self.clock()))
            pipe.execute()

    @_unless_unreachable(None)
    def logged_out(self, username: str) -> None:
        at = _seconds(self.clock())
        found: list[Any] = self.client.zrange(self._consoles, 0, -1)
        members = [member for member in found if _text(member).partition(_SEP)[0] == username]
        pipe = self.client.pipeline()
        if members:
            pipe.zrem(self._consoles, *members)
        pipe.srem(self._away, username)
        # the other workers' heartbeats must not bring back consoles opened before this
        pipe.hset(self._logout, username, at)
        pipe.execute()
        with self._lock:
            for console, (user, _) in list(self._mine.items()):
                if user == username:
                    del self._mine[console]

    def status(self, username: str) -> PresenceStatus:
        return self.everyone().get(username, PresenceStatus.OFFLINE)

    @_unless_unreachable({})
    def everyone(self) -> dict[str, PresenceStatus]:
        at = _seconds(self.clock())
        names = sorted(self._open(at))
        if not names:
            return {}
        pipe = self.client.pipeline()
        pipe.hmget(self._active, names)
        pipe.smembers(self._away)
        active, away = pipe.execute()
        away_names = {_text(name) for name in away}
        found: dict[str, PresenceStatus] = {}
        for name, last in zip(names, active, strict=True):
            idle = at - float(last) if last is not None else 0.0
            if name in away_names or idle >= self.away_after.total_seconds():
                found[name] = PresenceStatus.AWAY
            else:
                found[name] = PresenceStatus.ONLINE
        return found

    def anyone_online(self) -> bool:
        return PresenceStatus.ONLINE in self.everyone().values()

    def online(self) -> list[str]:
        return [name for name, status in self.everyone().items() if status == PresenceStatus.ONLINE]

    def heartbeat(self) -> None:
        """Renew the leases of the consoles open on this worker; drop everyone's lapsed ones."""
        at = _seconds(self.clock())
        with self._lock:
            mine = dict(self._mine)
        if mine:
            users = sorted({user for user, _ in mine.values()})
            logouts = dict(zip(users, self.client.hmget(self._logout, users), strict=True))
            renewed = {}
            for console, (user, opened) in mine.items():
                ended = logouts.get(user)
                if ended is not None and float(ended) >= opened:
                    with self._lock:
                        self._mine.pop(console, None)
                    continue
                renewed[f"{user}{_SEP}{console}"] = at + self.lease_s
            if renewed:
                self.client.zadd(self._consoles, renewed)
        self.client.zremrangebyscore(self._consoles, "-inf", at)

    def _open(self, at: float) -> set[str]:
        """The usernames with a console whose lease has not run out."""
        members: list[Any] = self.client.zrangebyscore(self._consoles, at, "+inf")
        return {_text(member).partition(_SEP)[0] for member in members}


class RedisSightings:
    """CustomerSightings in Redis: a customer streaming to any worker is there; the last
    sighting is the same for every worker. Customers never seen count as seen at this worker's
    start."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "kefu",
        clock: Clock = now,
        lease_s: float = LEASE_S,
    ) -> None:
        self.client = client
        self.clock = clock
        self.lease_s = lease_s
        self.started = clock()
        self._prefix = f"{prefix}:sightings"
        self._worker = uuid.uuid4().hex
        self._streams: dict[str, int] = {}  # open streams on this worker, by conversation
        self._lock = threading.Lock()

    def _streams_key(self, conversation_id: str) -> str:
        return f"{self._prefix}:streams:{conversation_id}"  # worker → lease end

    def _seen_key(self, conversation_id: str) -> str:
        return f"{self._prefix}:seen:{conversation_id}"

    @_unless_unreachable(None)
    def seen(self, conversation_id: str) -> None:
        at = _seconds(self.clock())
        self.client.set(self._seen_key(conversation_id), at, ex=SEEN_KEPT_S)

    def stream_opened(self, conversation_id: str) -> None:
        with self._lock:
            self._streams[conversation_id] = self._streams.get(conversation_id, 0) + 1
        self._write_stream(conversation_id, _seconds(self.clock()))

    @_unless_unreachable(None)
    def _write_stream(self, conversation_id: str, at: float) -> None:
        """(Kept here if Redis is away: the next heartbeat writes it.)"""
        pipe = self.client.pipeline()
        self._lease(pipe, conversation_id, at)
        pipe.set(self._seen_key(conversation_id), at, ex=SEEN_KEPT_S)
        pipe.execute()

    @_unless_unreachable(None)
    def stream_closed(self, conversation_id: str) -> None:
        with self._lock:
            left = self._streams.get(conversation_id, 0) - 1
            if left > 0:
                self._streams[conversation_id] = left
            else:
                self._streams.pop(conversation_id, None)
        at = _seconds(self.clock())
        pipe = self.client.pipeline()
        if left <= 0:
            pipe.zrem(self._streams_key(conversation_id), self._worker)
        pipe.set(self._seen_key(conversation_id), at, ex=SEEN_KEPT_S)
        pipe.execute()

    @_unless_unreachable(None)
    def gone_since(self, conversation_id: str) -> datetime | None:
        at = _seconds(self.clock())
        pipe = self.client.pipeline()
        pipe.zcount(self._streams_key(conversation_id), at, "+inf")
        pipe.get(self._seen_key(conversation_id))
        streaming, seen = pipe.execute()
        if streaming:
            return None
        if seen is None:
            return self.started
        return datetime.fromtimestamp(float(seen), UTC)

    @_unless_unreachable(None)
    def forget(self, conversation_id: str) -> None:
        self.client.delete(self._seen_key(conversation_id))

    def heartbeat(self) -> None:
        """Renew the leases of the streams open on this worker."""
        with self._lock:
            open_here = list(self._streams)
        if not open_here:
            return
        at = _seconds(self.clock())
        pipe = self.client.pipeline()
        for conversation_id in open_here:
            self._lease(pipe, conversation_id, at)
        pipe.execute()

    def _lease(self, pipe: redis.client.Pipeline, conversation_id: str, at: float) -> None:
        key = self._streams_key(conversation_id)
        pipe.zadd(key, {self._worker: at + self.lease_s})
        pipe.zremrangebyscore(key, "-inf", at)
        pipe.expire(key, int(self.lease_s * 2) + 1)
