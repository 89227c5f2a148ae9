"""A wake-up call between the workers when an ingest job is queued or ends, over Redis pub/sub
(KEFU_REDIS_URL), so the other workers look at the queue at once instead of at their next poll.

The table stays the truth: a signal carries nothing but "look now", and a lost one (Redis away)
costs only the wait until the next poll."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_S = 1.0  # wait before subscribing again after Redis went away


class RedisJobSignal:
    def __init__(self, url: str, prefix: str = "kefu") -> None:
        self.channel = f"{prefix}:ingest-jobs"
        # short timeouts: a signal is sent from a request's thread
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)

    def send(self) -> None:
        """Tell the other workers to look at the queue (never fails: they poll anyway)."""
        try:
            self._client.publish(self.channel, b"look")
        except (RedisError, OSError) as error:
            log.warning("ingest.signal_failed error=%s", error)

    def listen(self, woken: Callable[[], None], stopping: threading.Event) -> None:
        """Call `woken` at every signal until `stopping` is set (a thread's loop)."""
        while not stopping.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                while not stopping.is_set():
                    if pubsub.get_message(timeout=0.5) is not None:
                        woken()
            except (RedisError, OSError) as error:
                log.warning("ingest.signal_lost error=%s", error)
                stopping.wait(RETRY_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()

    def close(self) -> None:
        self._client.close()
