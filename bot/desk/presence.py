"""Who is there: agents online, away or offline, and whether a waiting customer's widget is
still open. Kept in this process (`LocalPresence`, `CustomerSightings`) or, for several
workers, in Redis (`RedisPresence`, `RedisSightings`): there each open console and each open
widget stream is a lease its worker renews (`heartbeat`), so the agents and customers of a
worker that was killed go offline when their leases run out.

An agent is online while one of their consoles is connected and active, away when they say so
or after `away_after` without activity, offline when they log out or their last console
closes. A customer is there while their widget streams the conversation or polls it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.conversation.events import now

Clock = Callable[[], datetime]


class PresenceStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AgentPresence(Protocol):
    def console_opened(self, username: str) -> str:
        """A console connected; returns its id for `console_closed`. Counts as activity."""
        ...

    def console_closed(self, username: str, console: str) -> None: ...

    def active(self, username: str) -> None:
        """The agent did something in a console."""
        ...

    def set_away(self, username: str, away: bool) -> None:
        """The agent says they are away (or back)."""
        ...

    def logged_out(self, username: str) -> None: ...

    def status(self, username: str) -> PresenceStatus: ...

    def everyone(self) -> dict[str, PresenceStatus]:
        """Every agent with a console open, by username."""
        ...

    def anyone_online(self) -> bool: ...

    def online(self) -> list[str]:
        """The usernames of the agents who could take a conversation now."""
        ...

    def heartbeat(self) -> None:
        """Renew what this worker holds open (called every few seconds while serving)."""
        ...


class Sightings(Protocol):
    """When each conversation's customer was last seen (CustomerSightings, RedisSightings)."""

    clock: Clock

    def seen(self, conversation_id: str) -> None: ...

    def stream_opened(self, conversation_id: str) -> None: ...

    def stream_closed(self, conversation_id: str) -> None: ...

    def gone_since(self, conversation_id: str) -> datetime | None:
        """Since when the customer has been away; None while their widget streams."""
        ...

    def forget(self, conversation_id: str) -> None: ...

    def heartbeat(self) -> None: ...


class LocalPresence:
    """AgentPresence in this process's memory."""

    def __init__(self, away_after: timedelta, clock: Clock = now) -> None:
        self.away_after = away_after
        self.clock = clock
        self._consoles: dict[str, set[str]] = {}
        self._active_at: dict[str, datetime] = {}
        self._away: set[str] = set()
        self._lock = threading.Lock()

    def console_opened(self, username: str) -> str:
        console = uuid.uuid4().hex
        with self._lock:
            self._consoles.setdefault(username, set()).add(console)
            self._active_at[username] = self.clock()
        return console

    @contextmanager
    def console_open(self, username: str) -> Iterator[bool]:
        """While a console of `username` is open; yields whether it is their first."""
        first = not self._consoles.get(username)
        console = self.console_opened(username)
        try:
            yield first
        finally:
            self.console_closed(username, console)

    def console_closed(self, username: str, console: str) -> None:
        with self._lock:
            consoles = self._consoles.get(username)
            if consoles is not None:
                consoles.discard(console)
                if not consoles:
                    del self._consoles[username]
                    self._away.discard(username)

    def active(self, username: str) -> None:
        with self._lock:
            self._active_at[username] = self.clock()

    def set_away(self, username: str, away: bool) -> None:
        with self._lock:
            if away:
                self._away.add(username)
            else:
                self._away.discard(username)
                self._active_at[username] = self.clock()

    def logged_out(self, username: str) -> None:
        with self._lock:
            self._consoles.pop(username, None)
            self._away.discard(username)

    def status(self, username: str) -> PresenceStatus:
        with self._lock:
            return self._status(username, self.clock())

    def everyone(self) -> dict[str, PresenceStatus]:
        with self._lock:
            at = self.clock()
            return {name: self._status(name, at) for name in sorted(self._consoles)}

    def anyone_online(self) -> bool:
        return PresenceStatus.ONLINE in self.everyone().values()

    def online(self) -> list[str]:
        return [name for name, status in self.everyone().items() if status == PresenceStatus.ONLINE]

    def heartbeat(self) -> None:
        """Nothing to renew: the consoles live and die with this process."""

    def _status(self, username: str, at: datetime) -> PresenceStatus:
        if not self._consoles.get(username):
            return PresenceStatus.OFFLINE
        idle = at - self._active_at.get(username, at)
        if username in self._away or idle >= self.away_after:
            return PresenceStatus.AWAY
        return PresenceStatus.ONLINE


class CustomerSightings:
    """When each conversation's customer was last seen (in this process): a stream counts as
    seen for as long as it is open, a poll of the transcript at the moment it is made.
    Customers not seen since this process started count as seen at its start."""

    def __init__(self, clock: Clock = now) -> None:
        self.clock = clock
        self.started = clock()
        self._seen: dict[str, datetime] = {}
        self._streams: dict[str, int] = {}
        self._lock = threading.Lock()

    def seen(self, conversation_id: str) -> None:
        with self._lock:
            self._seen[conversation_id] = self.clock()

    def stream_opened(self, conversation_id: str) -> None:
        with self._lock:
            self._streams[conversation_id] = self._streams.get(conversation_id, 0) + 1
            self._seen[conversation_id] = self.clock()

    def stream_closed(self, conversation_id: str) -> None:
        with self._lock:
            left = self._streams.get(conversation_id, 0) - 1
            if left > 0:
                self._streams[conversation_id] = left
            else:
                self._streams.pop(conversation_id, None)
            self._seen[conversation_id] = self.clock()

    def gone_since(self, conversation_id: str) -> datetime | None:
        """Since when the customer has been away; None while their widget streams."""
        with self._lock:
            if self._streams.get(conversation_id):
                return None
            return self._seen.get(conversation_id, self.started)

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._seen.pop(conversation_id, None)

    def heartbeat(self) -> None:
        """Nothing to renew: the streams live and die with this process."""
