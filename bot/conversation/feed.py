"""Wakes the listeners of a conversation (WebSocket streams) when its log grows.

The log itself is the stream: a listener reads the events after the last seq it has seen, so
a client that reconnects with its last seq gets exactly what it missed, nothing twice. The
feed only saves listeners from polling within one process; a listener also re-reads after a
timeout, which covers events written by another worker.

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


class EventFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._watchers: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def watch(self, watcher: Callable[[str], None]) -> None:
        """Call `watcher(conversation_id)` on every notification, from the notifying thread
        (which may hold the conversation's lock): it must return at once and never raise."""
        with self._lock:
            self._watchers.append(watcher)

    def notify(self, conversation_id: str) -> None:
        """Called (from any thread) after events of the conversation were appended."""
        with self._lock:
            listeners = list(self._listeners.get(conversation_id, ()))
            watchers = list(self._watchers)
        for listener in listeners:
            if not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener.flag.set)
        for watcher in watchers:
            watcher(conversation_id)

    def signal(self, conversation_id: str, signal: dict[str, Any], sender_role: str) -> None:
        """Pass a signal to the conversation's listeners other than those of `sender_role`."""
        with self._lock:
            listeners = [
                listener
                for listener in self._listeners.get(conversation_id, ())
                if listener.role != sender_role
            ]
        for listener in listeners:
            if not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener._signal, signal)

    def queue_changed(self, waiting: list[str]) -> None:
        """The queue moved: wake its listeners and every waiting customer (their place)."""
        for key in (QUEUE, *waiting):
            self.notify(key)

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
