"""Rate limits for the anonymous endpoints: per client address, over a moving window.

The counters live in this process (limits' MemoryStorage), where behind several workers each
one counts apart, or in Redis (`storage_uri` redis://…, or KEFU_REDIS_URL), shared by every
worker. A shared store that cannot be reached lets requests through (and says so in the log):
a Redis restart must not shut customers out.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse, storage, strategies
from limits.errors import StorageError

log = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class RateLimiter:
    def __init__(self, limit: str, storage_uri: str = "memory://", key_prefix: str = "") -> None:
        self.limit: RateLimitItem = parse(limit)
        options: dict[str, float | str | bool] = {}
        if not storage_uri.startswith("memory://"):
            # errors of the store arrive as StorageError, whatever the client library raised
            options["wrap_exceptions"] = True
            if key_prefix:
                options["key_prefix"] = key_prefix
        self._limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(storage_uri, **options)
        )

    def hit(self, *key: str) -> None:
        """Count one request of `key`; raises RateLimited once the window is full."""
        try:
            if self._limiter.hit(self.limit, *key):
                return
            reset = self._limiter.get_window_stats(self.limit, *key).reset_time
        except StorageError as error:
            log.warning("ratelimit.storage_unavailable error=%s", error.storage_error)
            return
        raise RateLimited(max(1, math.ceil(reset - time.time())))
