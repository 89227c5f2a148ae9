"""Carries the event feed's notifications and signals between kefu workers over Redis pub/sub,
so that a customer's message posted to one worker reaches a console connected to another at
once.

The conversation log stays the source of truth: a notification only wakes listeners, and a
listener reads the log after the last seq it has sent. Pub/sub keeps nothing for a subscriber
that is away, so whenever the subscription is (re)established, after a Redis restart or a
dropped connection, every listener of this worker is woken and re-reads the log: whatever
happened meanwhile arrives, nothing twice. Signals (typing, queue positions) sent during an
outage are gone, as they are for a client that was not connected; they are never stored.

What this worker publishes waits in a bounded outbox while Redis is away and goes out once it is
back; publishing never blocks the thread that notified.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.conversation.feed import EventFeed

log = logging.getLogger(__name__)

# notifications kept while Redis is away; past this the oldest go (the log still has them)
OUTBOX_LIMIT = 10_000
RETRY_S = 0.5  # first wait before reconnecting; doubles up to RETRY_MAX_S
RETRY_MAX_S = 5.0
HEALTH_CHECK_S = 5  # an idle subscription is pinged this often, so a dead one is noticed


class RedisBroadcast:
    """One worker's link to the others. `run()` (a task of the running app) keeps the
    subscription and the publishing going until cancelled."""

    def __init__(self, feed: EventFeed, url: str, prefix: str = "kefu") -> None:
        self.feed = feed
        self.url = url
        self.channel = f"{prefix}:feed"
        self.origin = uuid.uuid4().hex  # this worker; its own messages come back and are skipped
        self.connected = False  # subscribed now (readiness)
        self._outbox: deque[bytes] = deque(maxlen=OUTBOX_LIMIT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = asyncio.Event()
        feed.connect(self.publish)

    def publish(self, message: dict[str, Any]) -> None:
        """Queue `message` for the other workers (from any thread); dropped when not running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        data = json.dumps({**message, "origin": self.origin}, ensure_ascii=False).encode()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the app stops
            loop.call_soon_threadsafe(self._enqueue, data)

    def _enqueue(self, data: bytes) -> None:
        self._outbox.append(data)
        if self._pending is not None:
            self._pending.set()

    async def wait_subscribed(self, timeout: float) -> bool:
        """Until the subscription is up (True), or `timeout` seconds (False)."""
        deadline = time.monotonic() + timeout
        while not self.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.connected

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pending = asyncio.Event()  # an event belongs to the loop that first waits on it
        client = aioredis.from_url(
            self.url,
            socket_connect_timeout=2,
            socket_keepalive=True,
            health_check_interval=HEALTH_CHECK_S,
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._subscribe(client))
                group.create_task(self._publish(client))
        finally:
            self.connected = False
            self._loop = None
            await client.aclose()

    async def _subscribe(self, client: aioredis.Redis) -> None:
        wait = RETRY_S
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # from now on nothing published is missed; what came before is in the log
                        self.connected = True
                        wait = RETRY_S
                        log.info("feed.subscribed channel=%s", self.channel)
                        self.feed.wake_all()
                    elif message["type"] == "message":
                        self._deliver(message["data"])
            except (RedisError, OSError) as error:
                if self.connected:
                    log.warning("feed.subscription_lost error=%s", error)
                self.connected = False
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_MAX_S)

    def _deliver(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("feed.unreadable_message")
            return
        if not isinstance(message, dict) or message.get("origin") == self.origin:
            return
        self.feed.receive(message)

    async def _publish(self, client: aioredis.Redis) -> None:
        wait = RETRY_S
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outbox:
                data = self._outbox.popleft()
                try:
                    await client.publish(self.channel, data)
                except (RedisError, OSError) as error:
                    self._outbox.appendleft(data)  # first again, once Redis is back
                    log.warning("feed.publish_failed error=%s", error)
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, RETRY_MAX_S)
                    continue
                wait = RETRY_S
