"""The load benchmark's machinery: customers at a set pace against real servers, every request
counted, the pace kept, the figures and the report; the database and Redis keys it makes are
gone after. Nothing here is timed."""

from __future__ import annotations

import itertools
import uuid

import psycopg
import pytest
import redis

from eval.bench_chat import QuestionDeck
from eval.bench_load import (
    LoadPlan,
    markdown,
    postgres_database,
    redis_prefix,
    summarize,
)
from eval.bench_load import drive as drive_load
from tests.bot.conversation.conftest import postgres_admin  # noqa: F401 (fixture)
from tests.eval.test_bench_chat import IN_SCOPE, OFF_TOPIC, RunningServer, server  # noqa: F401

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"


def test_customers_keep_their_pace_and_every_request_is_counted(
    server: RunningServer,  # noqa: F811
) -> None:
    plan = LoadPlan(customers=6, seconds=4.0, pace_s=1.0, turns=(2, 3))
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, 0.25, seed=3, allow_repeats=True)
    # two "workers" (the same server twice): requests alternate between them
    run = drive_load([server.url, server.url], deck, plan)
    figures = summarize(run)
    assert figures["errors"] == 0, figures["error_kinds"]
    assert figures["turns"] == figures["turns_ok"] > 0
    assert figures["requests"] == figures["turns"] + figures["conversations"]
    assert figures["offered_per_s"] == 6.0
    # at most one message per half a pace from each customer, within the time
    for who in range(plan.customers):
        sent = sorted(t.finished_at - t.seconds for t in run.turns if t.customer == who)
        assert all(b - a >= 0.5 * plan.pace_s - 0.05 for a, b in itertools.pairwise(sent)), sent
        assert len(sent) <= plan.seconds / (0.5 * plan.pace_s) + 1
    assert max(t.finished_at - t.seconds for t in run.turns) < plan.seconds
    report = {
        "command": "python -m eval.bench_load --customers 6",
        "at": "now",
        "knowledge": {"ingest_s": 0.0},
        "workers": [
            {"rss_idle_mb": 1, "rss_peak_sampled_mb": 2, "rss_end_mb": 2, "cores_used": 0.1}
        ],
        "machine": {
            "cores": 2,
            "load_before": "-",
            "load_after": "-",
            "workers_cores": 0.1,
            "bench_process_cores": 0.01,
            "other_processes_cores": 0.0,
        },
        "load": figures,
    }
    page = markdown(report)
    assert f"| requests | {figures['requests']} |" in page
    assert "| **errors** | **0** |" in page and "worker 0" in page


def test_what_the_benchmark_makes_in_postgres_and_redis_is_removed(
    postgres_admin: str,  # noqa: F811
) -> None:
    with postgres_database(postgres_admin) as url:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_admin, dbname=name) as conn:
            conn.execute("SELECT 1")
        with redis_prefix(REDIS) as prefix:
            client = redis.Redis.from_url(REDIS)
            client.set(f"{prefix}:limits:x", 1)
            other = f"kefu-bench-other-{uuid.uuid4().hex}"
            client.set(other, 1, ex=60)
    with psycopg.connect(postgres_admin, dbname="postgres") as admin:
        left = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchall()
    assert left == []
    assert client.get(f"{prefix}:limits:x") is None
    assert client.get(other) is not None  # another run's keys stay
    client.delete(other)
    client.close()
