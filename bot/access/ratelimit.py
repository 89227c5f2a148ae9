"""Rate limits for the anonymous endpoints: per client address, over a moving window.

The counters live in this process (limits' MemoryStorage); behind several workers each one
counts apart, so a limit there is per worker. Give `storage_uri` (e.g. redis://127.0.0.1:6379)
to share them.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse, storage, strategies


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.limit: RateLimitItem = parse(limit)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def hit(self, *key: str) -> None:
        """Count one request of `key`; raises RateLimited once the window is full."""
        if not self._limiter.hit(self.limit, *key):
            reset = self._limiter.get_window_stats(self.limit, *key).reset_time
            raise RateLimited(max(1, math.ceil(reset - time.time())))
