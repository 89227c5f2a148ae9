"""The chat benchmark's machinery against a real server over a tiny hashing knowledge base.

Nothing here is timed: it checks that the customers' turns all arrive, that every one got a
200 and a valid status, and that the report holds what it promises.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from eval.bench_chat import (
    VALID_STATUSES,
    LoadPlan,
    QuestionDeck,
    both_timings,
    drive,
    markdown,
    parse_turns,
    process_cpu_seconds,
    process_memory_mb,
    summarize,
    target_verdict,
    targets_table,
    turn_log,
    verdict,
    warm_up,
)
from ingest.model import Chunk
from tests.conftest import free_port

# a real uvicorn server and real Chroma, though with the hashing embedder
pytestmark = pytest.mark.integration

FAQ = [
    ("退貨要怎麼申請？", "到貨後七天內可在會員中心申請退貨。"),
    ("運費怎麼算？", "單筆滿 990 元免運。"),
    ("How long does delivery take?", "Home delivery arrives within two business days."),
    ("Can I pay with a credit card?", "We accept credit cards and LINE Pay."),
]
IN_SCOPE = ["退貨怎麼申請", "運費多少錢", "how long is delivery", "credit card payment ok?"]
OFF_TOPIC = ["推薦一家餐廳", "what is the weather on mars", "附近有什麼景點", "play some jazz"]


@dataclass
class RunningServer:
    url: str
    services: object


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    import uvicorn

    from bot.app import create_app
    from bot.services import build_services
    from bot.settings import AccessSettings, Settings
    from handoff.settings import GateSettings
    from knowledge.embedding import HashingEmbedder

    data = tmp_path_factory.mktemp("bench-chat") / "data"
    # simulated customers all come from 127.0.0.1, faster than anyone types
    unlimited = AccessSettings(
        customer_rate_limit="1000000/minute", conversation_rate_limit="1000000/minute"
    )
    # the gate measures but hands nobody off: every message is a bot turn to time
    services = build_services(
        Settings(data_dir=data, access=unlimited, gate=GateSettings(shadow=True)),
        embedders=[HashingEmbedder()],
    )
    chunks = [
        Chunk.build(
            "faq.xlsx",
            f"sheet=FAQ;row={i + 2}",
            f"{q}\n{a}",
            {"question": q, "answer": a, "language": "en" if q.isascii() else "zh"},
        )
        for i, (q, a) in enumerate(FAQ)
    ]
    services.kb.sync_source("faq.xlsx", chunks)
    port = free_port()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", services)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        services.close()


def test_parse_turns():
    assert parse_turns("4") == (4, 4)
    assert parse_turns("3-5") == (3, 5)
    with pytest.raises(ValueError):
        parse_turns("5-3")


def test_deck_deals_each_question_once_then_runs_out():
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, off_topic_share=0.0, seed=1)
    first = deck.peek(3)
    assert [deck.draw() for _ in range(3)] == first  # peeked questions are the next dealt
    last = deck.draw()
    assert last is not None and last.in_scope
    assert sorted(q.text for q in [*first, last] if q) == sorted(IN_SCOPE)
    assert deck.draw() is None and deck.exhausted and deck.dealt == 4 and deck.repeats == 0


def test_deck_with_repeats_reshuffles_and_counts_them():
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, off_topic_share=0.0, seed=1, allow_repeats=True)
    dealt = [deck.draw() for _ in range(6)]
    assert all(q is not None for q in dealt) and not deck.exhausted
    assert deck.dealt == 6 and deck.repeats == 2


def test_deck_mixes_in_the_off_topic_share():
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, off_topic_share=0.25, seed=2, allow_repeats=True)
    dealt = [q for _ in range(400) if (q := deck.draw()) is not None]
    assert len(dealt) == 400
    assert all(q.text in (IN_SCOPE if q.in_scope else OFF_TOPIC) for q in dealt)
    assert 0.15 < sum(not q.in_scope for q in dealt) / len(dealt) < 0.35


def test_customers_get_a_valid_turn_for_every_message(server: RunningServer):
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, off_topic_share=0.25, seed=3, allow_repeats=True)
    assert len(warm_up(server.url, deck, turns=2)) == 2
    plan = LoadPlan(customers=3, turns=(2, 3), seconds=None, conversations=5, seed=3)
    run = drive(server.url, deck, plan)

    assert len(run.conversation_ids) == 5 and not run.start_errors
    per_conversation: dict[int, list[int]] = {}
    for t in run.turns:
        per_conversation.setdefault(t.conversation, []).append(t.turn)
    assert sorted(per_conversation) == list(range(5))
    for turns in per_conversation.values():
        assert 2 <= len(turns) <= 3 and sorted(turns) == list(range(1, len(turns) + 1))
    for t in run.turns:
        assert t.http_status == 200, t.error
        assert t.status in VALID_STATUSES and t.error is None
        assert t.server_ms is not None and t.seconds > 0

    summary = summarize(run)
    assert summary["turns"] == summary["turns_ok"] == len(run.turns)
    assert summary["turns_failed"] == 0 and summary["errors"] == {}
    assert summary["conversations"] == 5 and summary["turns_per_s"] > 0
    for key in ("turn_latency", "answerer_latency", "start_latency"):
        assert set(summary[key]) == {"n", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"}
    assert summary["turn_latency"]["n"] == len(run.turns)
    statuses = summary["statuses"]
    assert sum(sum(c.values()) for c in statuses.values()) == len(run.turns)

    logged = turn_log(server.services.store, run.conversation_ids)  # type: ignore[attr-defined]
    assert logged["bot_turns_logged"] == len(run.turns)
    assert 1 <= logged["retrievals_per_turn"] <= 2

    pid = os.getpid()  # the server runs in this process
    assert set(process_memory_mb(pid)) == {"VmRSS", "VmHWM"} and process_cpu_seconds(pid) > 0

    timing = {
        "questions": 2,
        "encoders": {
            "e5": {"p50_ms": 1.0, "mean_ms": 1.0, "queries_per_s": 1000, "questions_it_serves": 2}
        },
        "encoder_ms_per_question": 1.0,
        "encoder_cpu_ms_per_question": 1.0,
        "raw_encoder_rate": 1000.0,
    }
    encoders = both_timings(timing, {**timing, "encoder_ms_per_question": 3.0})
    assert encoders["raw_encoder_rate"] == 500.0  # 2 ms per question over both timings
    result: dict[str, Any] = {
        "dataset": "tiny",
        "knowledge": {"chunks": len(FAQ), "folder": "memory"},
        "questions": {"off_topic_share": 0.25, "dealt": deck.dealt, "repeats": deck.repeats},
        "server": dict.fromkeys(
            (
                "startup_s",
                "warmup_turns_ms",
                "rss_idle_mb",
                "rss_peak_sampled_mb",
                "rss_end_mb",
                "hwm_mb",
                "cpu_ms_per_turn",
                "cores_used",
            ),
            0,
        ),
        "machine": dict.fromkeys(
            ("load_before", "load_after", "bench_process_cores", "other_processes_cores"), 0
        ),
        "encoders": encoders,
        "load": summary,
        "log": logged,
    }
    result["targets"] = verdict(result)
    assert set(result["targets"]["met"]) == {"p50_ms", "p95_ms", "turns_per_raw_rate"}
    report = markdown({"command": "test", "at": "now", "cores": 2, "runs": [result]})
    assert "## tiny" in report and "turns/s ÷ raw encoder rate" in report


def test_time_limit_stops_the_customers(server: RunningServer):
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, seed=5, allow_repeats=True)
    run = drive(server.url, deck, LoadPlan(customers=2, turns=(3, 3), seconds=0.5))
    assert run.turns and all(t.ok for t in run.turns) and not run.questions_ran_out
    assert run.wall_seconds < 0.5 + 30  # the last turns in flight finish, nothing new starts


def test_the_load_ends_when_the_questions_run_out(server: RunningServer):
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, off_topic_share=0.5, seed=7)
    run = drive(server.url, deck, LoadPlan(customers=2, turns=(3, 3), seconds=600))
    assert run.questions_ran_out and summarize(run)["questions_ran_out"]
    assert 1 <= len(run.turns) <= len(IN_SCOPE) + len(OFF_TOPIC)
    assert all(t.ok for t in run.turns)


def test_customers_spread_over_several_workers(server: RunningServer):
    deck = QuestionDeck(IN_SCOPE, OFF_TOPIC, seed=9, allow_repeats=True)
    plan = LoadPlan(customers=3, turns=(2, 2), seconds=None, conversations=3, seed=9)
    # the same server twice: what counts is that every customer's turns arrive
    run = drive([server.url, server.url], deck, plan)
    assert len(run.conversation_ids) == 3 and len(run.turns) == 6
    assert all(t.ok for t in run.turns)


def _phase_figures(turns_per_s: float, p50: float, p95: float, rss: list[float]) -> dict:
    return {
        "plan": {"customers": 20, "think_s": 5.0},
        "turns_ok": 100,
        "turns_failed": 0,
        "turns_per_s": turns_per_s,
        "turn_latency": {"p50_ms": p50, "p95_ms": p95},
        "server_cpu_ms_per_turn": 40.0,
        "other_cores": 0.1,
        "rss_peak_mb": rss,
        "rss_end_mb": rss,
        "rss_idle_mb": rss,
        "encoder_threads_per_worker": 1,
    }


def test_the_targets_are_judged_against_the_same_runs_figures():
    timing = {"raw_encoder_rate": 40.0, "encoder_ms_per_question": 25.0}
    result: dict[str, Any] = {
        "dataset": "tiny",
        "encoders": {"before": timing, "after": timing, **timing},
        "phases": {
            "single": _phase_figures(30.0, 29.0, 40.0, [900.0]),
            "typing": _phase_figures(4.0, 35.0, 101.0, [900.0]),
            "busy": _phase_figures(37.0, 400.0, 600.0, [950.0]),
            "workers": _phase_figures(36.0, 400.0, 600.0, [700.0, 710.0]),
        },
        "questions": {"ran_out": False},
        "machine": {"load_after": "load average: 1.00"},
    }
    verdict = target_verdict(result)
    assert verdict["values"] == {
        "single_p50_ms": 29.0,
        "typing_p95_ms": 101.0,
        "busy_per_raw_rate": 0.925,  # 37 ÷ 40
        "two_workers_per_one": 0.973,  # 36 ÷ 37
    }
    assert verdict["met"] == {
        "single_p50_ms": True,
        "typing_p95_ms": False,
        "busy_per_raw_rate": True,
        "two_workers_per_one": True,
    }
    result["targets"] = verdict
    table = targets_table(result)
    assert "| one customer alone: turn p50 (HTTP) | 29.0 ms (100 turns) | ≤ 30 ms | met |" in table
    assert "101.0 ms" in table and "**missed**" in table
    assert "700 / 710 MB" in table and "0.925 (37.0 ÷ 40.0/s)" in table
