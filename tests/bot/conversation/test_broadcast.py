"""Live events across workers: two event feeds (two workers' worth) linked by real Redis
pub/sub; a notification on one wakes the listeners of the other at once, and after Redis
restarts the listeners are woken to re-read the log, so nothing written meanwhile is missed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.conversation.broadcast import RedisBroadcast
from bot.conversation.feed import QUEUE, EventFeed
from tests.conftest import REDIS_URL, RedisServer, redis_server


@contextlib.asynccontextmanager
async def linked(url: str, prefix: str, count: int = 2) -> AsyncIterator[list[EventFeed]]:
    """`count` feeds, each with its broadcast running, as `count` workers would have."""
    feeds = [EventFeed() for _ in range(count)]
    broadcasts = [RedisBroadcast(feed, url, prefix) for feed in feeds]
    tasks = [asyncio.create_task(b.run()) for b in broadcasts]
    try:
        for broadcast in broadcasts:
            assert await broadcast.wait_subscribed(5), "no subscription to Redis"
        yield feeds
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def woken(listener, timeout: float) -> bool:
    started = time.monotonic()
    await listener.wait(timeout)
    return time.monotonic() - started < timeout


def test_a_notification_on_one_worker_wakes_a_listener_on_another_at_once(
    redis_prefix: str,
) -> None:
    async def scenario() -> None:
        async with linked(REDIS_URL, redis_prefix) as (a, b):
            with b.listen("c1", "agent") as on_b, b.listen("c2", "agent") as other:
                started = time.monotonic()
                a.notify("c1")
                assert await woken(on_b, 5)
                assert time.monotonic() - started < 1.0
                assert not other.flag.is_set()  # only the conversation's own listeners

    asyncio.run(scenario())


def test_signals_cross_workers_but_not_to_the_senders_role(redis_prefix: str) -> None:
    async def scenario() -> None:
        async with linked(REDIS_URL, redis_prefix) as (a, b):
            with b.listen("c1", "agent") as agent, b.listen("c1", "customer") as customer:
                typing = {"kind": "typing", "data": {"role": "customer", "name": ""}}
                a.signal("c1", typing, sender_role="customer")
                assert await woken(agent, 5)
                assert agent.take_signals() == [typing]
                await asyncio.sleep(0.3)
                assert customer.take_signals() == []

    asyncio.run(scenario())


def test_the_queue_moving_on_one_worker_wakes_consoles_and_waiting_customers_on_another(
    redis_prefix: str,
) -> None:
    async def scenario() -> None:
        async with linked(REDIS_URL, redis_prefix, count=3) as (a, b, c):
            with b.listen(QUEUE, "agent") as console, c.listen("w1", "customer") as waiting:
                a.queue_changed(["w1"])
                assert await woken(console, 5)
                assert await woken(waiting, 5)

    asyncio.run(scenario())


def test_the_watchers_hear_only_their_own_workers_notifications(redis_prefix: str) -> None:
    """A watcher (the LINE and Messenger relay) acts once, on the worker where the log grew."""

    async def scenario() -> None:
        async with linked(REDIS_URL, redis_prefix) as (a, b):
            heard_a: list[str] = []
            heard_b: list[str] = []
            a.watch(heard_a.append)
            b.watch(heard_b.append)
            with b.listen("c1") as listener:
                a.notify("c1")
                assert await woken(listener, 5)
            assert heard_a == ["c1"] and heard_b == []

    asyncio.run(scenario())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


def test_after_redis_restarts_listeners_reread_the_log_and_miss_nothing(private_redis) -> None:
    url, stop, start = private_redis.url, private_redis.stop, private_redis.start
    log: list[str] = []  # the conversation's log, the source of truth

    async def scenario() -> None:
        async with linked(url, "kefu") as (a, b):
            with b.listen("c1", "agent") as on_b:
                seen = 0

                async def read() -> list[str]:
                    nonlocal seen
                    fresh = log[seen:]
                    seen = len(log)
                    return fresh

                log.append("hello")
                a.notify("c1")
                assert await woken(on_b, 5) and await read() == ["hello"]

                stop()
                await asyncio.sleep(0.3)
                # written while Redis is down, by a worker whose notification never goes out
                # (it was killed): only the log has it
                log.append("written while Redis was down")
                await asyncio.sleep(0.5)
                start()
                # the subscription comes back by itself and wakes the listener to re-read
                assert await woken(on_b, 15)
                assert await read() == ["written while Redis was down"]

                # and the link works as before
                log.append("after")
                a.notify("c1")
                deadline = time.monotonic() + 10
                got: list[str] = []
                while "after" not in got and time.monotonic() < deadline:
                    await on_b.wait(1)
                    got += await read()
                assert got == ["after"]

    asyncio.run(scenario())
