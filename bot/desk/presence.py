"""Who is at the desk: an agent is online while they have a console open (its live queue
stream). The desk asks only `Presence.online()`, so a fuller presence (away after idle, shared
between workers) can replace this one."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Presence(Protocol):
    def online(self) -> list[str]:
        """The usernames of the agents who could take a conversation now."""
        ...


class OpenConsoles:
    """Counts each agent's open consoles in this process (one server process: a deployment
    with several workers needs a shared presence instead)."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def console_open(self, username: str) -> Iterator[bool]:
        """While a console of `username` is open; yields whether it is their first."""
        with self._lock:
            self._open[username] += 1
            first = self._open[username] == 1
        try:
            yield first
        finally:
            with self._lock:
                self._open[username] -= 1
                if self._open[username] <= 0:
                    del self._open[username]

    def online(self) -> list[str]:
        with self._lock:
            return sorted(self._open)
