"""Presence and sightings in real Redis, as several workers see them: two instances stand for
two workers; their leases run out on a clock the test moves when a worker stops renewing them
(killed), and rate-limit counters are shared."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot.access.ratelimit import RateLimited, RateLimiter
from bot.desk.presence import PresenceStatus
from bot.desk.shared_presence import RedisPresence, RedisSightings
from tests.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    found = redis.Redis.from_url(REDIS_URL)
    yield found
    found.close()


def two_workers(client: redis.Redis, prefix: str, clock: Clock) -> tuple[RedisPresence, ...]:
    return tuple(
        RedisPresence(client, timedelta(minutes=10), prefix=prefix, clock=clock, lease_s=30)
        for _ in range(2)
    )


def test_an_agent_online_on_one_worker_is_online_on_every_worker(
    client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    a, b = two_workers(client, redis_prefix, clock)
    assert b.status("mei") == PresenceStatus.OFFLINE and not b.anyone_online()
    first = a.console_opened("mei")
    second = b.console_opened("mei")
    assert b.status("mei") == PresenceStatus.ONLINE and b.online() == ["mei"]
    clock.at += timedelta(minutes=10)
    a.heartbeat()
    b.heartbeat()
    assert b.status("mei") == PresenceStatus.AWAY  # idle on every console
    a.active("mei")
    assert b.status("mei") == PresenceStatus.ONLINE
    a.set_away("mei", True)
    assert b.status("mei") == PresenceStatus.AWAY and not b.anyone_online()
    b.set_away("mei", False)
    a.console_closed("mei", first)
    assert a.status("mei") == PresenceStatus.ONLINE  # the console on b is still open
    b.console_closed("mei", second)
    assert a.status("mei") == PresenceStatus.OFFLINE
    b.console_opened("mei")
    a.logged_out("mei")
    assert b.everyone() == {}
    b.heartbeat()  # the logged-out console is not brought back by its worker
    assert a.everyone() == {}


def test_a_killed_workers_agents_go_offline_when_their_lease_runs_out(
    client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    killed, alive = two_workers(client, redis_prefix, clock)
    killed.console_opened("mei")
    alive.console_opened("jun")
    for _ in range(3):  # beats of the living worker only
        clock.at += timedelta(seconds=20)
        alive.heartbeat()
        alive.active("jun")
    assert alive.everyone() == {"jun": PresenceStatus.ONLINE}


def test_a_redis_that_lost_its_data_gets_the_open_consoles_back_on_the_next_beat(
    client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    a, b = two_workers(client, redis_prefix, clock)
    a.console_opened("mei")
    for key in client.scan_iter(match=f"{redis_prefix}:*"):
        client.delete(key)  # what a restart without persistence does
    assert b.status("mei") == PresenceStatus.OFFLINE
    a.heartbeat()
    assert b.status("mei") == PresenceStatus.ONLINE


def test_a_customer_streaming_to_any_worker_is_there(
    client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    a, b = (RedisSightings(client, prefix=redis_prefix, clock=clock) for _ in range(2))
    assert b.gone_since("c1") == clock.at  # never seen: since the worker started
    a.stream_opened("c1")
    b.stream_opened("c1")
    clock.at += timedelta(seconds=20)
    a.heartbeat()
    b.heartbeat()
    a.stream_closed("c1")
    assert a.gone_since("c1") is None  # the other worker's stream is open
    b.stream_closed("c1")
    assert a.gone_since("c1") == clock.at
    clock.at += timedelta(minutes=5)
    b.seen("c1")
    assert a.gone_since("c1") == clock.at
    a.forget("c1")
    assert a.gone_since("c1") == a.started


def test_a_customer_on_a_killed_worker_counts_as_gone_since_the_last_sighting(
    client: redis.Redis, redis_prefix: str
) -> None:
    clock = Clock()
    killed, alive = (RedisSightings(client, prefix=redis_prefix, clock=clock) for _ in range(2))
    opened_at = clock.at
    killed.stream_opened("c1")
    clock.at += timedelta(seconds=20)
    alive.heartbeat()
    assert alive.gone_since("c1") is None
    clock.at += timedelta(seconds=20)  # the lease (30 s) has run out, nobody renewed it
    assert alive.gone_since("c1") == opened_at


def test_rate_limits_count_across_workers(redis_prefix: str) -> None:
    a, b = (RateLimiter("3/minute", REDIS_URL, f"{redis_prefix}:limits") for _ in range(2))
    a.hit("client", "203.0.113.9")
    b.hit("client", "203.0.113.9")
    a.hit("client", "203.0.113.9")
    with pytest.raises(RateLimited):
        b.hit("client", "203.0.113.9")
    a.hit("client", "198.51.100.7")  # another address counts apart


def test_rate_limits_let_requests_through_while_redis_is_unreachable() -> None:
    unreachable = RateLimiter("1/minute", "redis://127.0.0.1:1/0")
    for _ in range(3):
        unreachable.hit("client", "203.0.113.9")


def test_while_redis_is_unreachable_nobody_is_online_and_every_customer_is_there() -> None:
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    presence = RedisPresence(unreachable, timedelta(minutes=10))
    sightings = RedisSightings(unreachable)
    console = presence.console_opened("mei")  # kept for the next heartbeat
    assert presence.everyone() == {} and not presence.anyone_online()
    presence.console_closed("mei", console)
    sightings.stream_opened("c1")
    sightings.seen("c1")
    assert sightings.gone_since("c1") is None  # nobody leaves the queue for Redis's sake
