"""Wakes the listeners of a conversation (WebSocket streams) when its log grows.

The log itself is the stream: a listener reads the events after the last seq it has seen, so
a client that reconnects with its last seq gets exactly what it missed, nothing twice. The
feed only saves listeners from polling within one process; a listener also re-reads after a
timeout, which covers events written by another worker, and with Redis configured
(bot.conversation.broadcast) every notification and signal reaches the other workers' listeners
at once.

Watchers hear of every notification, whatever the conversation: the messaging channels watch
to send what agents write to LINE or Messenger.

Signals (typing, the customer's place in the queue) are not events: they are not stored, have
no seq, and reach only the listeners connected at that moment, never the one who sent them.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

# Signals kept for a listener that is not reading: typing signals are worthless once old.
MAX_PENDING_SIGNALS = 20
# Listeners of this key hear about every change to any conversation's status (the queue).
QUEUE = "*queue*"


class Listener:
    def __init__(self, role: str = "") -> None:
        self.loop = asyncio.get_running_loop()
        self.flag = asyncio.Event()
        self.role = role
        self.signals: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING_SIGNALS)

    def take_signals(self) -> list[dict[str, Any]]:
        taken = list(self.signals)
        self.signals.clear()
        return taken

    def _signal(self, signal: dict[str, Any]) -> None:
        self.signals.append(signal)
        self.flag.set()

    async def wait(self, timeout: float) -> None:
        """Until the log may have grown since the last wait, or `timeout` seconds. Read the
        log after this returns: a notification that came while reading is not lost."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.flag.wait(), timeout)
        self.flag.clear()


# What the feed passes to the other workers: {"op": "notify", "keys": [...]} or
# {"op": "signal", "key": ..., "signal": {...}, "sender_role": ...}
Outbound = Callable[[dict[str, Any]], None]


class EventFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._watchers: list[Callable[[str], None]] = []
        self._lock = threading.Lock()
        self._outbound: Outbound | None = None

    def connect(self, outbound: Outbound) -> None:
        """Pass every notification and signal to `outbound` too (the other workers); it is
        called from the notifying thread and must return at once and never raise."""
        self._outbound = outbound

    def watch(self, watcher: Callable[[str], None]) -> None:
        """Call `watcher(conversation_id)` on every notification, from the notifying thread
        (which may hold the conversation's lock): it must return at once and never raise."""
        with self._lock:
            self._watchers.append(watcher)

    def notify(self, conversation_id: str) -> None:
        """Called (from any thread) after events of the conversation were appended."""
        self._notify([conversation_id])

    def signal(self, conversation_id: str, signal: dict[str, Any], sender_role: str) -> None:
        """Pass a signal to the conversation's listeners other than those of `sender_role`."""
        self._signal(conversation_id, signal, sender_role)
        if self._outbound is not None:
            self._outbound(
                {
                    "op": "signal",
                    "key": conversation_id,
                    "signal": signal,
                    "sender_role": sender_role,
                }
            )

    def queue_changed(self, waiting: list[str]) -> None:
        """The queue moved: wake its listeners and every waiting customer (their place)."""
        self._notify([QUEUE, *waiting])

    def receive(self, message: dict[str, Any]) -> None:
        """A notification or signal from another worker: for this worker's listeners only
        (the watchers heard of it on the worker where it happened)."""
        if message.get("op") == "notify":
            self._wake([str(key) for key in message.get("keys", ())])
        elif message.get("op") == "signal" and isinstance(message.get("signal"), dict):
            self._signal(str(message["key"]), message["signal"], str(message.get("sender_role")))

    def wake_all(self) -> None:
        """Wake every listener, to re-read the log (after news from other workers may have
        been missed)."""
        with self._lock:
            keys = list(self._listeners)
        self._wake(keys)

    def _notify(self, keys: list[str]) -> None:
        self._wake(keys)
        with self._lock:
            watchers = list(self._watchers)
        for key in keys:
            for watcher in watchers:
                watcher(key)
        if self._outbound is not None:
            self._outbound({"op": "notify", "keys": keys})

    def _wake(self, keys: list[str]) -> None:
        with self._lock:
            listeners = [listener for key in keys for listener in self._listeners.get(key, ())]
        for listener in listeners:
            if not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener.flag.set)

    def _signal(self, conversation_id: str, signal: dict[str, Any], sender_role: str) -> None:
        with self._lock:
            listeners = [
                listener
                for listener in self._listeners.get(conversation_id, ())
                if listener.role != sender_role
            ]
        for listener in listeners:
            if not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener._signal, signal)

    @contextmanager
    def listen(self, conversation_id: str, role: str = "") -> Iterator[Listener]:
        """Register before the first read, so that nothing appended after it goes unnoticed."""
        listener = Listener(role)
        with self._lock:
            self._listeners.setdefault(conversation_id, set()).add(listener)
        try:
            yield listener
        finally:
            with self._lock:
                found = self._listeners.get(conversation_id)
                if found is not None:
                    found.discard(listener)
                    if not found:
                        del self._listeners[conversation_id]
