"""Metrics from hand-built event logs whose right answers are worked out here, line by line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.conversation.events import (
    AgentReplied,
    BotTurn,
    ConversationStarted,
    CustomerMessaged,
    Event,
    FeedbackGiven,
    StatusChanged,
    SurveyAnswered,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.status import ConversationStatus
from bot.conversation.store import MemoryConversationStore
from bot.reports.metrics import Summary, TopicContainment, compute_metrics
from handoff.hours import BusinessHours, HoursSettings

S = ConversationStatus
T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
START, END = T, T + timedelta(days=1)
NOW = T + timedelta(hours=10)
WINDOW = timedelta(minutes=30)
HOUR = timedelta(hours=1)


def sec(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


class Talk:
    """One conversation's events, each at start + an offset, numbered 1, 2, 3… like a store."""

    def __init__(self, conversation_id: str, started_at: datetime) -> None:
        self.id = conversation_id
        self.started_at = started_at
        self.events: list[Event] = [
            ConversationStarted(conversation_id=conversation_id, at=started_at, channel="web")
        ]

    def says(self, offset: timedelta, text: str = "…") -> Talk:
        self.events.append(
            CustomerMessaged(
                conversation_id=self.id, at=self.started_at + offset, text=text, language="zh-TW"
            )
        )
        return self

    def bot(
        self,
        turn: type[BotTurn],
        offset: timedelta,
        *,
        latency_ms: float,
        topic: str | None = None,
        question: str = "q",
        reason: str = "test",
        **extra: Any,
    ) -> Talk:
        self.events.append(
            turn(
                conversation_id=self.id,
                at=self.started_at + offset,
                question=question,
                language="zh-TW",
                reply="…",
                reason=reason,
                confidence=0.5,
                topic=topic,
                latency_ms=latency_ms,
                **extra,
            )
        )
        return self

    def status(
        self, offset: timedelta, old: S, new: S, reason: str = "", actor: str = "bot"
    ) -> Talk:
        self.events.append(
            StatusChanged(
                conversation_id=self.id,
                at=self.started_at + offset,
                from_status=old,
                to_status=new,
                reason=reason,
                actor=actor,
            )
        )
        return self

    def feedback(self, offset: timedelta, helpful: bool) -> Talk:
        self.events.append(
            FeedbackGiven(conversation_id=self.id, at=self.started_at + offset, helpful=helpful)
        )
        return self


def log_of(*talks: Talk) -> list[tuple[int, Event]]:
    return [(seq, e) for talk in talks for seq, e in enumerate(talk.events, start=1)]


# A: answered, then 👍 — deflected and confirmed. First response 2 s.
A = (
    Talk("A", T)
    .says(sec(60))
    .bot(TurnAnswered, sec(62), topic="退換貨", latency_ms=800)
    .feedback(sec(180), helpful=True)
)
# B: clarified, then answered, then silence for hours — assumed resolved. First response 3 s,
# handling 15 s (first message at 10 s to the last answer at 25 s).
B = (
    Talk("B", T + HOUR)
    .says(sec(10))
    .bot(TurnClarifying, sec(13), topic="付款", latency_ms=400)
    .says(sec(20))
    .bot(TurnAnswered, sec(25), topic="付款", latency_ms=1200)
)
# C: answered 20 min before now: still inside the 30 min window — pending. First response 4 s.
C = (
    Talk("C", NOW - timedelta(minutes=20))
    .says(sec(0))
    .bot(TurnAnswered, sec(4), topic="付款", latency_ms=600)
)
# D: refused twice, handed off, claimed and resolved by the agent. First response 1 s, handling
# 1195 s (first message at 5 s to resolved at 20 min); no topic on any turn.
D = (
    Talk("D", T + 2 * HOUR)
    .says(sec(5))
    .bot(TurnRefused, sec(6), question="  發票怎麼開？ ", latency_ms=300)
    .says(sec(20))
    .bot(TurnRefused, sec(22), question="發票怎麼開？", latency_ms=700)
    .says(sec(35))
    .bot(TurnHandedOff, sec(36), latency_ms=100, trigger="repeated_refusal", trigger_value=2)
    .status(sec(37), S.BOT, S.WAITING, reason="repeated_refusal")
    .status(timedelta(minutes=5), S.WAITING, S.WITH_AGENT, actor="agent:mei")
    .status(timedelta(minutes=20), S.WITH_AGENT, S.RESOLVED, actor="agent:mei")
)
# E: answered, the customer wrote again ("thanks"), closed by the system at 30 min 30 s: resolved
# (handling 1800 s from the first message at 30 s), but neither confirmed nor assumed.
E = (
    Talk("E", T + 3 * HOUR)
    .says(sec(30))
    .bot(TurnAnswered, sec(32), topic="退換貨", latency_ms=500)
    .says(sec(60), "謝謝")
    .status(sec(1830), S.BOT, S.RESOLVED, reason="idle", actor="system")
)
# F: started the day before the period — counts nowhere, not even its refused turn.
F = (
    Talk("F", T - timedelta(days=1))
    .says(sec(1))
    .bot(TurnRefused, sec(3), question="發票怎麼開？", latency_ms=5000)
)
# G: opened the widget, never wrote — not engaged.
G = Talk("G", T + 6 * HOUR)
# H: refused, then answered, then 👎 — deflected, not resolved either way. First response 2 s.
H = (
    Talk("H", T + 4 * HOUR)
    .says(sec(0))
    .bot(TurnRefused, sec(2), question="How do I get an INVOICE?  ", latency_ms=200)
    .says(sec(20))
    .bot(TurnAnswered, sec(30), topic="發票", latency_ms=900)
    .feedback(sec(40), helpful=False)
)
# J: answered, 👍, then asked for a human anyway — handed off, so not confirmed. First response 6 s.
J = (
    Talk("J", T + 5 * HOUR)
    .says(sec(10))
    .bot(TurnAnswered, sec(16), topic="退換貨", latency_ms=1000)
    .feedback(sec(30), helpful=True)
    .status(sec(40), S.BOT, S.WAITING, reason="explicit_request", actor="customer")
)

LOG = log_of(A, B, C, D, E, F, G, H, J)


def metrics_of(log: list[tuple[int, Event]], **overrides: Any):
    period: dict[str, Any] = {"start": START, "end": END, "assumed_window": WINDOW, "now": NOW}
    return compute_metrics(log, **{**period, **overrides})


def test_conversation_outcomes():
    m = metrics_of(LOG)
    # engaged and started in the period: A B C D E H J (not F: before; not G: never wrote)
    assert m.conversations == 7
    assert (m.handed_off, m.deflected) == (2, 5)  # D, J
    assert m.handoff_rate == 2 / 7
    assert m.deflection_rate == 5 / 7
    assert m.handoffs_by_trigger == {"repeated_refusal": 1, "explicit_request": 1}
    assert m.resolution_confirmed == 1  # A
    assert m.resolution_confirmed_rate == 1 / 7
    assert m.resolution_assumed == 1  # B
    assert m.resolution_assumed_rate == 1 / 7
    assert m.pending_conversations == 1  # C


def test_turns_in_the_period():
    m = metrics_of(LOG)
    # A:1 answered; B: clarifying + answered; C: answered; D: 2 refused + handed off;
    # E: answered; H: refused + answered; J: answered — F's refusal is outside
    assert m.bot_turns == 11
    assert (m.answered_turns, m.clarifying_turns, m.refused_turns, m.handed_off_turns) == (
        6,
        1,
        3,
        1,
    )
    assert m.answered_rate == 6 / 11
    assert m.clarifying_rate == 1 / 11
    assert m.refusal_rate == 3 / 11
    # latencies sorted: 100 200 300 400 500 600 700 800 900 1000 1200 (sum 6700)
    # p50: rank 5 → 600; p90: rank 9 → 1000; p95: rank 9.5 → 1000 + 0.5 × 200
    assert m.turn_latency_ms == Summary(count=11, mean=6700 / 11, p50=600, p90=1000, p95=1100)
    assert m.top_refused_questions == (("發票怎麼開？", 2), ("how do i get an invoice?", 1))


def test_the_middle_band_is_counted_apart_from_clarifying():
    """A clarifying turn that offers the closest item ("is this what you meant?") is its own
    kind; a clarifying turn between close answers stays clarifying."""
    from bot.answering.answerer import CLOSE_CANDIDATES
    from bot.answering.answerer import CLOSEST_MATCH as ANSWERER_CLOSEST_MATCH
    from bot.reports.metrics import CLOSEST_MATCH

    assert CLOSEST_MATCH == ANSWERER_CLOSEST_MATCH  # the metrics count what the answerer says
    talk = (
        Talk("K", T)
        .says(sec(1))
        .bot(TurnClarifying, sec(2), latency_ms=1, reason=CLOSE_CANDIDATES, options=("a", "b"))
        .says(sec(3))
        .bot(TurnClarifying, sec(4), latency_ms=1, reason=CLOSEST_MATCH, options=("a",))
        .says(sec(5))
        .bot(TurnClarifying, sec(6), latency_ms=1, reason=CLOSEST_MATCH, options=("b",))
        .says(sec(7))
        .bot(TurnAnswered, sec(8), latency_ms=1)
        .says(sec(9))
        .bot(TurnRefused, sec(10), latency_ms=1)
    )
    m = metrics_of(log_of(talk))
    assert (m.bot_turns, m.answered_turns, m.clarifying_turns) == (5, 1, 1)
    assert (m.closest_match_turns, m.refused_turns) == (2, 1)
    assert (m.clarifying_rate, m.closest_match_rate) == (1 / 5, 2 / 5)
    d = m.as_dict()
    assert (d["closest_match_turns"], d["closest_match_rate"]) == (2, 2 / 5)
    assert set(d["definitions"]["closest_match_rate"]) == {"en", "zh"}
    rates = ("answered_rate", "clarifying_rate", "closest_match_rate", "refusal_rate")
    assert sum(d[r] for r in rates) == pytest.approx(1.0)
    assert m.behind["closest_match"] == ("K",)  # the conversations behind the number


def test_response_and_handling_times():
    m = metrics_of(LOG)
    # first responses A 2, B 3, C 4, D 1, E 2, H 2, J 6 → sorted 1 2 2 2 3 4 6 (sum 20)
    # p50: rank 3 → 2; p90: rank 5.4 → 4 + 0.4 × 2; p95: rank 5.7 → 4 + 0.7 × 2
    expected = Summary(count=7, mean=20 / 7, p50=2, p90=4.8, p95=5.4)
    assert m.first_response_time_bot == expected
    assert m.first_response_time == expected
    # D 1195 (resolved), E 1800 (resolved), B 15 (assumed, to its last answer) → 15 1195 1800
    # p90: rank 1.8 → 1195 + 0.8 × 605; p95: rank 1.9 → 1195 + 0.9 × 605
    assert m.average_handling_time == Summary(
        count=3, mean=3010 / 3, p50=1195, p90=1679, p95=1739.5
    )


def test_containment_by_topic():
    m = metrics_of(LOG)
    assert m.per_topic == {
        "退換貨": TopicContainment(conversations=3, handed_off=1),  # A E J
        "付款": TopicContainment(conversations=2, handed_off=0),  # B C
        "(none)": TopicContainment(conversations=1, handed_off=1),  # D
        "發票": TopicContainment(conversations=1, handed_off=0),  # H: its refusal has no topic
    }
    assert [t.containment for t in m.per_topic.values()] == [2 / 3, 1.0, 0.0, 1.0]


def test_as_dict_is_json_with_self_explaining_keys():
    d = metrics_of(LOG).as_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["period"] == {
        "start": "2025-03-03T09:00:00+00:00",
        "end": "2025-03-04T09:00:00+00:00",
        "now": "2025-03-03T19:00:00+00:00",
        "assumed_resolution_window_seconds": 1800.0,
    }
    assert d["engaged_conversations"] == 7
    assert (d["deflected_conversations"], d["deflection_rate"]) == (5, 5 / 7)
    assert (d["handed_off_conversations"], d["handoff_rate"]) == (2, 2 / 7)
    assert d["resolution_assumed_conversations"] == 1
    assert d["pending_conversations"] == 1
    assert d["refusal_rate"] == 3 / 11
    assert d["first_response_time_seconds"] == d["first_response_time_bot_seconds"]
    assert d["average_handling_time_seconds"]["p50"] == 1195
    assert d["turn_latency_ms"]["count"] == 11
    assert d["containment_by_topic"]["(none)"] == {
        "conversations": 1,
        "handed_off_conversations": 1,
        "containment_rate": 0.0,
    }
    assert d["unanswered"] == {
        "refused_turns": 3,
        "top_refused_questions": [
            {"question": "發票怎麼開？", "count": 2},
            {"question": "how do i get an invoice?", "count": 1},
        ],
    }


def test_empty_log_gives_zero_counts_and_no_rates():
    m = metrics_of([])
    assert (m.conversations, m.handed_off, m.bot_turns, m.refused_turns) == (0, 0, 0, 0)
    for rate in (
        m.deflection_rate,
        m.handoff_rate,
        m.resolution_confirmed_rate,
        m.resolution_assumed_rate,
        m.answered_rate,
        m.clarifying_rate,
        m.closest_match_rate,
        m.refusal_rate,
    ):
        assert rate is None
    assert m.first_response_time == Summary(count=0)
    assert m.turn_latency_ms == Summary(0, None, None, None, None)
    d = m.as_dict()
    assert d["deflection_rate"] is None and d["refusal_rate"] is None
    assert d["average_handling_time_seconds"] == {
        "count": 0,
        "mean": None,
        "p50": None,
        "p90": None,
        "p95": None,
    }
    assert d["handoffs_by_trigger"] == {} and d["containment_by_topic"] == {}
    assert "not zero" in d["null_means"]


def test_the_log_order_does_not_matter():
    assert metrics_of(list(reversed(LOG))) == metrics_of(LOG)


def test_open_period_takes_everything():
    m = metrics_of(LOG, start=None, end=None)
    assert m.conversations == 8  # F too
    assert m.refused_turns == 4
    assert m.top_refused_questions[0] == ("發票怎麼開？", 3)


def test_the_assumed_window_boundary():
    answered = Talk("X", T).says(sec(0)).bot(TurnAnswered, sec(1), latency_ms=10)
    answered_at = T + sec(1)
    at_the_edge = metrics_of(log_of(answered), now=answered_at + WINDOW)
    assert (at_the_edge.resolution_assumed, at_the_edge.pending_conversations) == (1, 0)
    just_before = metrics_of(log_of(answered), now=answered_at + WINDOW - timedelta(microseconds=1))
    assert (just_before.resolution_assumed, just_before.pending_conversations) == (0, 1)


def test_turns_count_by_their_own_time():
    # started before the period, answered inside it: a turn of the period, not a conversation
    late = Talk("L", START - HOUR).says(sec(0)).bot(TurnAnswered, HOUR + sec(5), latency_ms=10)
    m = metrics_of(log_of(late))
    assert (m.conversations, m.bot_turns, m.answered_rate) == (0, 1, 1.0)


def test_feedback_after_a_handoff_still_confirms():
    back = (
        Talk("K", T)
        .says(sec(0))
        .bot(TurnHandedOff, sec(1), latency_ms=10)  # no trigger recorded
        .status(sec(2), S.BOT, S.WAITING)
        .status(sec(60), S.WAITING, S.BOT, actor="agent:mei")
        .says(sec(70))
        .bot(TurnAnswered, sec(72), latency_ms=10)
        .feedback(sec(80), helpful=True)
    )
    m = metrics_of(log_of(back))
    assert (m.resolution_confirmed, m.handed_off, m.deflected) == (1, 1, 0)
    assert m.handoffs_by_trigger == {"(unspecified)": 1}


def test_computed_from_a_store_log():
    store = MemoryConversationStore()
    conversation = store.create("web")
    started = store.get(conversation.id).created_at
    store.append(
        CustomerMessaged(
            conversation_id=conversation.id, at=started + sec(1), text="退貨？", language="zh-TW"
        )
    )
    store.append(
        TurnAnswered(
            conversation_id=conversation.id,
            at=started + sec(3),
            question="退貨？",
            language="zh-TW",
            reply="七天內。",
            reason="clear_match",
            confidence=0.9,
            topic="退換貨",
            latency_ms=35,
        )
    )
    m = compute_metrics(
        store.log(), start=started, end=None, assumed_window=WINDOW, now=started + HOUR
    )
    assert (m.conversations, m.resolution_assumed, m.bot_turns) == (1, 1, 1)
    assert m.first_response_time_bot == Summary(count=1, mean=2, p50=2, p90=2, p95=2)
    assert m.average_handling_time.mean == 2


def test_human_first_response_csat_and_ces() -> None:
    """H: the bot answers at 2 s, the customer asks for a person at 30 s, an agent replies at
    90 s (human first response 60 s) and resolves; the survey says CSAT 4, CES 6.
    J: handed off at once by the gate, the agent answers 40 s later: the first response by
    anyone is the bot's handoff turn at 1 s; CSAT 2, CES 3. K: waiting, nobody answered yet."""
    h = (
        Talk("H", T)
        .says(sec(0))
        .bot(TurnAnswered, sec(2), latency_ms=50)
        .status(sec(30), S.BOT, S.WAITING, "customer_request", "customer")
        .status(sec(50), S.WAITING, S.WITH_AGENT, "claimed", "agent:mei")
    )
    h.events.append(
        AgentReplied(
            conversation_id="H", at=T + sec(90), text="您好", agent="mei", agent_name="美玲"
        )
    )
    h.status(sec(200), S.WITH_AGENT, S.RESOLVED, "resolved", "agent:mei")
    h.events.append(SurveyAnswered(conversation_id="H", at=T + sec(210), csat=4, ces=6))
    j = (
        Talk("J", T)
        .says(sec(0))
        .bot(TurnHandedOff, sec(1), latency_ms=50, trigger="negative_sentiment")
        .status(sec(1), S.BOT, S.WAITING, "negative_sentiment")
        .status(sec(20), S.WAITING, S.WITH_AGENT, "claimed", "agent:tom")
    )
    j.events.append(
        AgentReplied(
            conversation_id="J", at=T + sec(41), text="抱歉", agent="tom", agent_name="Tom"
        )
    )
    j.status(sec(60), S.WITH_AGENT, S.RESOLVED, "resolved", "agent:tom")
    j.events.append(SurveyAnswered(conversation_id="J", at=T + sec(70), csat=2, ces=3))
    k = Talk("K", T).says(sec(0)).status(sec(1), S.BOT, S.WAITING, "customer_request", "customer")

    m = compute_metrics(log_of(h, j, k), start=START, end=END, assumed_window=WINDOW, now=NOW)
    assert m.first_response_time_human == Summary(count=2, mean=50, p50=50, p90=58, p95=59)
    assert m.first_response_time == Summary(count=2, mean=1.5, p50=1.5, p90=1.9, p95=1.95)
    assert (m.csat, m.csat_satisfied_rate, m.ces) == (3.0, 0.5, 4.5)
    d = m.as_dict()
    assert d["csat"] == {"mean": 3.0, "answers": 2, "satisfied_rate": 0.5, "scale": "1-5"}
    assert d["ces"] == {"mean": 4.5, "answers": 2, "scale": "1-7"}
    assert d["first_response_time_human_seconds"]["count"] == 2


def test_no_surveys_means_null_not_zero() -> None:
    m = compute_metrics(log_of(A), start=START, end=END, assumed_window=WINDOW, now=NOW)
    assert (m.csat, m.csat_satisfied_rate, m.ces) == (None, None, None)
    assert m.first_response_time_human == Summary(count=0)


def test_the_conversations_behind_each_number_and_per_day() -> None:
    m = metrics_of(LOG)
    assert len(m.behind["engaged"]) == m.conversations
    assert len(m.behind.get("handed_off", ())) == m.handed_off
    assert len(m.behind.get("deflected", ())) == m.deflected
    assert len(m.behind.get("resolution_confirmed", ())) == m.resolution_confirmed
    assert len(m.behind.get("resolution_assumed", ())) == m.resolution_assumed
    assert "A" in m.behind["resolution_confirmed"] and "B" in m.behind["resolution_assumed"]
    for trigger, n in m.handoffs_by_trigger.items():
        assert len(m.behind[f"trigger:{trigger}"]) == n
    assert sum(n for _, n in m.conversations_per_day) == m.conversations
    assert m.as_dict()["conversations_per_day"][0] == {
        "day": m.conversations_per_day[0][0],
        "conversations": m.conversations_per_day[0][1],
    }


def test_days_are_the_shops_days_around_midnight_in_taipei() -> None:
    """Taipei is UTC+8: 23:50 local on 3 March is 15:50 UTC the same day; 00:10 local on
    4 March is 16:10 UTC on 3 March, a different day in the shop but the same one in UTC."""
    late = Talk("late", datetime(2025, 3, 3, 15, 50, tzinfo=UTC)).says(sec(5))
    early = Talk("early", datetime(2025, 3, 3, 16, 10, tzinfo=UTC)).says(sec(5))
    morning = Talk("morning", datetime(2025, 3, 3, 23, 59, tzinfo=UTC)).says(sec(5))
    log = log_of(late, early, morning)
    period = {"assumed_window": WINDOW, "now": datetime(2025, 3, 5, tzinfo=UTC)}
    in_utc = compute_metrics(log, **period)
    assert in_utc.conversations_per_day == (("2025-03-03", 3),)
    taipei = compute_metrics(log, zone=ZoneInfo("Asia/Taipei"), **period)
    assert taipei.conversations_per_day == (("2025-03-03", 1), ("2025-03-04", 2))
    # without a zone, the opening hours' zone (Asia/Taipei by default) counts the days
    by_hours = compute_metrics(log, hours=BusinessHours(HoursSettings()), **period)
    assert by_hours.conversations_per_day == taipei.conversations_per_day
