"""Wakes the listeners of a conversation (WebSocket streams) when its log grows.

The log itself is the stream: a listener reads the events after the last seq it has seen, so
a client that reconnects with its last seq gets exactly what it missed, nothing twice. The
feed only saves listeners from polling within one process; a listener also re-reads after a
timeout, which covers events written by another worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class Listener:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.flag = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the log may have grown since the last wait, or `timeout` seconds. Read the
        log after this returns: a notification that came while reading is not lost."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.flag.wait(), timeout)
        self.flag.clear()


class EventFeed:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}
        self._lock = threading.Lock()

    def notify(self, conversation_id: str) -> None:
        """Called (from any thread) after events of the conversation were appended."""
        with self._lock:
            listeners = list(self._listeners.get(conversation_id, ()))
        for listener in listeners:
            if not listener.loop.is_closed():
                listener.loop.call_soon_threadsafe(listener.flag.set)

    @contextmanager
    def listen(self, conversation_id: str) -> Iterator[Listener]:
        """Register before the first read, so that nothing appended after it goes unnoticed."""
        listener = Listener()
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
