"""Abandonment (missed ÷ queued) and the first human response counted within opening hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.conversation.events import (
    AgentReplied,
    ConversationStarted,
    CustomerMessaged,
    Event,
    StatusChanged,
)
from bot.conversation.status import ConversationStatus as S
from bot.reports.metrics import compute_metrics
from handoff.hours import BusinessHours, HoursSettings

TAIPEI = ZoneInfo("Asia/Taipei")
NIGHT = datetime(2026, 12, 3, 23, 30, tzinfo=TAIPEI)  # a Thursday


def conversation(cid: str, *moves: tuple[int, Event]) -> list[tuple[int, Event]]:
    return [
        (1, ConversationStarted(conversation_id=cid, at=NIGHT, channel="web")),
        (2, CustomerMessaged(conversation_id=cid, at=NIGHT, text="找真人", language="zh")),
        *moves,
    ]


def queued(cid: str, seq: int = 3) -> tuple[int, Event]:
    return seq, StatusChanged(
        conversation_id=cid, at=NIGHT, from_status=S.BOT, to_status=S.WAITING, reason="x"
    )


def test_abandonment_is_missed_over_queued_and_response_time_skips_the_night() -> None:
    left = StatusChanged(
        conversation_id="a",
        at=NIGHT + timedelta(minutes=15),
        from_status=S.WAITING,
        to_status=S.BOT,
        reason="customer_left",
        actor="system",
    )
    back = StatusChanged(
        conversation_id="b",
        at=NIGHT + timedelta(minutes=1),
        from_status=S.WAITING,
        to_status=S.BOT,
        reason="customer_back_to_bot",
        actor="customer",
    )
    answered_next_morning = AgentReplied(
        conversation_id="c",
        at=datetime(2026, 12, 4, 9, 5, tzinfo=TAIPEI),
        text="早安",
        agent="mei",
        agent_name="美玲",
    )
    log = [
        *conversation("a", queued("a"), (4, left)),
        *conversation("b", queued("b"), (4, back)),
        *conversation("c", queued("c"), (4, answered_next_morning)),
        *conversation("d"),  # never queued
    ]
    found = compute_metrics(
        log,
        assumed_window=timedelta(minutes=30),
        now=NIGHT + timedelta(days=1),
        hours=BusinessHours(HoursSettings()),
    )
    assert (found.queued, found.missed) == (3, 1)
    assert found.abandonment_rate == 1 / 3
    assert found.behind["missed"] == ("a",)
    assert found.behind["queued"] == ("a", "b", "c")
    data = found.as_dict()
    assert data["abandonment_rate"] == 1 / 3
    assert data["first_response_time_human_open_seconds"]["mean"] == 300  # 09:00 → 09:05
    assert data["first_response_time_human_seconds"]["mean"] == 9.5 * 3600 + 300
    assert "abandonment_rate" in data["definitions"]
    nobody = compute_metrics(log[-2:], assumed_window=timedelta(minutes=30), now=NIGHT)
    assert nobody.abandonment_rate is None
