"""Service metrics computed from the conversation event log only, so every number traces to rows.

Two populations, both cut by the period start <= at < end (an open bound is unbounded):

* Conversation metrics count the *engaged conversations*: those whose ConversationStarted is in
  the period and that have at least one CustomerMessaged. All of a conversation's events in the
  given log count, also those after the period's end, so pass the log from `start` on (or all of
  it) to see how late conversations ended.
* Turn metrics count the bot turns (TurnAnswered, TurnClarifying, TurnRefused, TurnHandedOff)
  whose own time is in the period, whichever conversation they belong to.

Definitions ("after" means a later seq in the same conversation):

* conversations: the engaged conversations.
* handed off: a conversation with a TurnHandedOff or a StatusChanged to waiting or with_agent.
  handoff_rate = handed off / engaged; deflection_rate = not handed off / engaged.
* handoffs_by_trigger: handed-off conversations counted by what started their first handoff:
  the TurnHandedOff's trigger, else the reason of the StatusChanged (a handoff is usually both
  events; counting the first one per conversation keeps the sum equal to the handoff count).
* resolution_confirmed_rate: conversations with a FeedbackGiven(helpful=True) and no handoff
  after the last such feedback / engaged.
* resolution_assumed_rate: conversations not confirmed, never handed off, whose last bot turn is
  a TurnAnswered with no CustomerMessaged and no FeedbackGiven(helpful=False) after it, and
  answered at least `assumed_window` before `now` / engaged. The same conversations answered
  less than `assumed_window` before `now` are pending_conversations: not yet either way.
* answered_rate, clarifying_rate, closest_match_rate, refusal_rate: turns of that kind / all
  bot turns. A TurnClarifying whose reason is "closest_match" (the middle band: the bot was
  not sure enough to answer nor to refuse and offered its closest item and a person) counts
  as closest_match, not as clarifying, so that the four rates and the handed-off turns'
  share add up to one.
* first_response_time_bot: seconds from a conversation's first CustomerMessaged to the first
  bot turn after it; conversations with no such turn are left out.
* first_response_time_human: seconds from a conversation's first handoff to the first
  AgentReplied after it; handed-off conversations no agent answered are left out.
* first_response_time_human_open: the same, counting only the seconds within the opening
  hours (`handoff.hours`; given to compute_metrics), so that a handoff at 23:30 answered at
  09:05 the next morning counts five minutes.
* abandonment_rate = missed / queued. queued: conversations with a StatusChanged to waiting
  (a customer who was in the live queue; a handoff that found nobody available and left the
  customer with the bot never queued). missed: conversations with a StatusChanged out of
  waiting with reason customer_left (the customer's widget was gone for the set time, no
  message left).
* first_response_time: seconds from the first CustomerMessaged to the first bot turn or
  AgentReplied after it, whichever came first.
* csat: SurveyAnswered.csat (1-5) of the engaged conversations: mean, answers, and
  csat_satisfied_rate = answers of 4 or 5 / answers (the usual "CSAT %").
* ces: SurveyAnswered.ces (1-7, 7 = very easy to get help): mean and answers.
* average_handling_time: seconds from the first CustomerMessaged to the last StatusChanged to
  resolved; for a conversation never resolved that way but resolution-assumed, to its last
  answer.
* turn_latency_ms: BotTurn.latency_ms of the bot turns.
* per_topic: engaged conversations grouped by the topic of their first bot turn that has one
  ("(none)" when none has); containment = not handed off / conversations of the topic.
* unanswered: the refused turns, and the most frequent refused questions (stripped, lower-cased).

A rate whose denominator is 0 is None, not 0; so are the mean and percentiles of no samples.
Percentiles interpolate linearly between the two nearest ranks (numpy's default).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

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
from bot.privacy.redaction import mask_personal
from handoff.hours import BusinessHours

# The reason of a middle-band clarifying turn (bot.answering.answerer.CLOSEST_MATCH; not
# imported, so that metrics need none of the answering machinery).
CLOSEST_MATCH = "closest_match"

NO_TOPIC = "(none)"
MISSED_REASON = "customer_left"  # bot.conversation.flows.CustomerLeft
UNSPECIFIED = "(unspecified)"  # a handoff with an empty trigger or reason
TOP_REFUSED_QUESTIONS = 20
HANDOFF_STATUSES = frozenset({ConversationStatus.WAITING, ConversationStatus.WITH_AGENT})
NULL_MEANS = (
    "null = nothing to divide by or no samples (no engaged conversations, no bot turns, ...); "
    "it is not zero"
)


# What each dashboard number means, for the people who read it (the module docstring is the
# precise version).
DEFINITIONS: dict[str, dict[str, str]] = {
    "deflection_rate": {
        "en": "Share of conversations the bot handled without a person.",
        "zh": "沒有轉接真人、由機器人處理完的對話比例。",
    },
    "resolution_confirmed_rate": {
        "en": "Share of conversations where the customer said an answer helped (👍).",
        "zh": "客戶表示答案有幫助（👍）的對話比例。",
    },
    "resolution_assumed_rate": {
        "en": "Share of conversations that ended on an answer with no further question and "
        "no handoff, after the waiting window.",
        "zh": "以答案結束、之後沒有再提問也沒有轉接（超過等待時間）的對話比例。",
    },
    "closest_match_rate": {
        "en": "Share of the bot's turns where it was unsure and offered the closest item it "
        "found, or a person, instead of answering.",
        "zh": "機器人不確定時，改為提供最接近的內容（或轉接真人）而非直接回答的回合比例。",
    },
    "refusal_rate": {
        "en": "Share of the bot's turns where it found no answer and said so.",
        "zh": "機器人找不到答案並如實告知的回合比例。",
    },
    "handoff_rate": {
        "en": "Share of conversations handed to a person; by trigger: what started it.",
        "zh": "轉接真人的對話比例；依原因：觸發轉接的訊號。",
    },
    "first_response_time_seconds": {
        "en": "Seconds from the customer's first message to the first reply (bot or person).",
        "zh": "從客戶第一則訊息到第一次回覆（機器人或真人）的秒數。",
    },
    "first_response_time_human_seconds": {
        "en": "Seconds from the handoff to the first reply of a person.",
        "zh": "從轉接到真人第一次回覆的秒數。",
    },
    "first_response_time_human_open_seconds": {
        "en": "Seconds from the handoff to the first reply of a person, within opening hours only.",
        "zh": "從轉接到真人第一次回覆的秒數，只計營業時間內。",
    },
    "abandonment_rate": {
        "en": "Share of the customers who waited in the queue and left before a person came "
        "(their widget gone for the set time, no message left): missed ÷ queued.",
        "zh": "進入等候佇列的客戶中，在真人接手前離開（小工具關閉超過設定時間、未留言）的比例："
        "錯過 ÷ 排隊。",
    },
    "average_handling_time_seconds": {
        "en": "Seconds from the first message until the conversation was resolved.",
        "zh": "從第一則訊息到對話結案的秒數。",
    },
    "csat": {
        "en": "Customer satisfaction, 1-5, from the end-of-conversation survey; satisfied = 4 "
        "or 5.",
        "zh": "顧客滿意度（1–5 分），來自對話結束後的調查；滿意 = 4 或 5 分。",
    },
    "ces": {
        "en": "Customer effort: how easy it was to get help, 1 (very hard) to 7 (very easy).",
        "zh": "顧客費力度：取得協助有多容易，1（非常困難）到 7（非常容易）。",
    },
    "conversations_per_day": {
        "en": "Conversations with at least one customer message, by the day they started "
        "(in the shop's time zone).",
        "zh": "每天開始、且客戶至少傳過一則訊息的對話數（以商店時區的日期計）。",
    },
    "containment_by_topic": {
        "en": "Per topic of the first answer: share of conversations not handed to a person.",
        "zh": "依第一個答案的主題：未轉接真人的對話比例。",
    },
}


@dataclass(frozen=True)
class Summary:
    """Count, mean and percentiles of some samples; None but the count when there are none."""

    count: int
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None

    @classmethod
    def of(cls, samples: Iterable[float]) -> Summary:
        values = sorted(samples)
        if not values:
            return cls(0)
        return cls(
            count=len(values),
            mean=sum(values) / len(values),
            p50=_percentile(values, 50),
            p90=_percentile(values, 90),
            p95=_percentile(values, 95),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicContainment:
    conversations: int
    handed_off: int

    @property
    def containment(self) -> float | None:
        return _rate(self.conversations - self.handed_off, self.conversations)


@dataclass(frozen=True)
class Metrics:
    """What compute_metrics found; the rates are derived from the counts kept here."""

    start: datetime | None
    end: datetime | None
    now: datetime
    assumed_window: timedelta
    conversations: int  # engaged
    handed_off: int
    handoffs_by_trigger: dict[str, int]
    resolution_confirmed: int
    resolution_assumed: int
    pending_conversations: int
    bot_turns: int
    answered_turns: int
    clarifying_turns: int
    refused_turns: int
    handed_off_turns: int
    first_response_time_bot: Summary
    first_response_time_human: Summary
    first_response_time: Summary
    average_handling_time: Summary
    turn_latency_ms: Summary
    per_topic: dict[str, TopicContainment]
    top_refused_questions: tuple[tuple[str, int], ...]
    csat_answers: tuple[int, ...] = ()
    ces_answers: tuple[int, ...] = ()
    # (day in the shop's time zone, engaged conversations started that day)
    conversations_per_day: tuple[tuple[str, int], ...] = ()
    closest_match_turns: int = 0  # clarifying turns of the middle band, not in clarifying_turns
    queued: int = 0  # conversations that waited in the live queue
    missed: int = 0  # of those, the customers who left (customer_left)
    first_response_time_human_open: Summary = field(default_factory=lambda: Summary(0))
    behind: dict[str, tuple[str, ...]] = field(default_factory=dict)  # metric → conversations

    @property
    def csat(self) -> float | None:
        return _mean(self.csat_answers)

    @property
    def csat_satisfied_rate(self) -> float | None:
        return _rate(sum(a >= 4 for a in self.csat_answers), len(self.csat_answers))

    @property
    def ces(self) -> float | None:
        return _mean(self.ces_answers)

    @property
    def deflected(self) -> int:
        return self.conversations - self.handed_off

    @property
    def deflection_rate(self) -> float | None:
        return _rate(self.deflected, self.conversations)

    @property
    def abandonment_rate(self) -> float | None:
        return _rate(self.missed, self.queued)

    @property
    def handoff_rate(self) -> float | None:
        return _rate(self.handed_off, self.conversations)

    @property
    def resolution_confirmed_rate(self) -> float | None:
        return _rate(self.resolution_confirmed, self.conversations)

    @property
    def resolution_assumed_rate(self) -> float | None:
        return _rate(self.resolution_assumed, self.conversations)

    @property
    def answered_rate(self) -> float | None:
        return _rate(self.answered_turns, self.bot_turns)

    @property
    def clarifying_rate(self) -> float | None:
        return _rate(self.clarifying_turns, self.bot_turns)

    @property
    def closest_match_rate(self) -> float | None:
        return _rate(self.closest_match_turns, self.bot_turns)

    @property
    def refusal_rate(self) -> float | None:
        return _rate(self.refused_turns, self.bot_turns)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with keys that say what they count and in which unit."""
        return {
            "period": {
                "start": _iso(self.start),
                "end": _iso(self.end),
                "now": self.now.isoformat(),
                "assumed_resolution_window_seconds": self.assumed_window.total_seconds(),
            },
            "null_means": NULL_MEANS,
            "definitions": DEFINITIONS,
            "engaged_conversations": self.conversations,
            "deflected_conversations": self.deflected,
            "deflection_rate": self.deflection_rate,
            "handed_off_conversations": self.handed_off,
            "handoff_rate": self.handoff_rate,
            "handoffs_by_trigger": dict(self.handoffs_by_trigger),
            "queued_conversations": self.queued,
            "missed_conversations": self.missed,
            "abandonment_rate": self.abandonment_rate,
            "resolution_confirmed_conversations": self.resolution_confirmed,
            "resolution_confirmed_rate": self.resolution_confirmed_rate,
            "resolution_assumed_conversations": self.resolution_assumed,
            "resolution_assumed_rate": self.resolution_assumed_rate,
            "pending_conversations": self.pending_conversations,
            "bot_turns": self.bot_turns,
            "answered_turns": self.answered_turns,
            "clarifying_turns": self.clarifying_turns,
            "closest_match_turns": self.closest_match_turns,
            "refused_turns": self.refused_turns,
            "handed_off_turns": self.handed_off_turns,
            "answered_rate": self.answered_rate,
            "clarifying_rate": self.clarifying_rate,
            "closest_match_rate": self.closest_match_rate,
            "refusal_rate": self.refusal_rate,
            "first_response_time_seconds": self.first_response_time.as_dict(),
            "first_response_time_bot_seconds": self.first_response_time_bot.as_dict(),
            "first_response_time_human_seconds": self.first_response_time_human.as_dict(),
            "first_response_time_human_open_seconds": (
                self.first_response_time_human_open.as_dict()
            ),
            "average_handling_time_seconds": self.average_handling_time.as_dict(),
            "turn_latency_ms": self.turn_latency_ms.as_dict(),
            "csat": {
                "mean": self.csat,
                "answers": len(self.csat_answers),
                "satisfied_rate": self.csat_satisfied_rate,
                "scale": "1-5",
            },
            "ces": {"mean": self.ces, "answers": len(self.ces_answers), "scale": "1-7"},
            "conversations_per_day": [
                {"day": day, "conversations": n} for day, n in self.conversations_per_day
            ],
            "containment_by_topic": {
                topic: {
                    "conversations": kept.conversations,
                    "handed_off_conversations": kept.handed_off,
                    "containment_rate": kept.containment,
                }
                for topic, kept in self.per_topic.items()
            },
            "unanswered": {
                "refused_turns": self.refused_turns,
                "top_refused_questions": [
                    {"question": question, "count": count}
                    for question, count in self.top_refused_questions
                ],
            },
        }


@dataclass(frozen=True)
class _Outcome:
    """How one engaged conversation went."""

    handoff_trigger: str | None  # None: never handed off
    confirmed: bool
    assumed: bool
    pending: bool
    first_response_s: float | None  # bot's
    first_response_human_s: float | None
    first_response_any_s: float | None
    handling_s: float | None
    topic: str
    surveys: tuple[SurveyAnswered, ...] = ()
    conversation_id: str = ""
    started_on: str = ""  # the day it started in the shop's time zone, ISO
    refused: bool = False  # the bot refused at least once
    closest_match: bool = False  # the bot offered its closest item at least once
    queued: bool = False
    missed: bool = False
    first_response_human_open_s: float | None = None


def compute_metrics(
    log: Iterable[tuple[int, Event]],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    assumed_window: timedelta,
    now: datetime,
    hours: BusinessHours | None = None,
    zone: tzinfo | None = None,
) -> Metrics:
    """The metrics of the period from a log of (seq, event), e.g. ConversationStore.log(start).
    Days (conversations_per_day) are those of `zone`: the opening hours' time zone when not
    given, UTC without either."""
    day_zone = zone or (hours.zone if hours is not None else UTC)

    def in_period(at: datetime) -> bool:
        return (start is None or at >= start) and (end is None or at < end)

    by_conversation: dict[str, list[tuple[int, Event]]] = defaultdict(list)
    turns: list[BotTurn] = []
    for seq, event in log:
        by_conversation[event.conversation_id].append((seq, event))
        if isinstance(event, BotTurn) and in_period(event.at):
            turns.append(event)

    outcomes: list[_Outcome] = []
    for recorded in by_conversation.values():
        events = [event for _, event in sorted(recorded, key=lambda r: r[0])]
        started = any(isinstance(e, ConversationStarted) and in_period(e.at) for e in events)
        outcome = _outcome(events, now, assumed_window, hours, day_zone) if started else None
        if outcome is not None:
            outcomes.append(outcome)

    per_day = Counter(o.started_on for o in outcomes)

    triggers = Counter(o.handoff_trigger for o in outcomes if o.handoff_trigger is not None)
    topics: dict[str, list[_Outcome]] = defaultdict(list)
    for o in outcomes:
        topics[o.topic].append(o)
    kinds = Counter(type(t) for t in turns)
    closest = sum(1 for t in turns if isinstance(t, TurnClarifying) and t.reason == CLOSEST_MATCH)
    refused = Counter(
        mask_personal(t.question.strip().lower()) for t in turns if isinstance(t, TurnRefused)
    )
    first_responses = [o.first_response_s for o in outcomes if o.first_response_s is not None]
    surveys = [s for o in outcomes for s in o.surveys]

    return Metrics(
        start=start,
        end=end,
        now=now,
        assumed_window=assumed_window,
        conversations=len(outcomes),
        handed_off=sum(o.handoff_trigger is not None for o in outcomes),
        handoffs_by_trigger=dict(sorted(triggers.items(), key=lambda t: (-t[1], t[0]))),
        resolution_confirmed=sum(o.confirmed for o in outcomes),
        resolution_assumed=sum(o.assumed for o in outcomes),
        pending_conversations=sum(o.pending for o in outcomes),
        bot_turns=len(turns),
        answered_turns=kinds[TurnAnswered],
        clarifying_turns=kinds[TurnClarifying] - closest,
        closest_match_turns=closest,
        queued=sum(o.queued for o in outcomes),
        missed=sum(o.missed for o in outcomes),
        first_response_time_human_open=Summary.of(
            o.first_response_human_open_s
            for o in outcomes
            if o.first_response_human_open_s is not None
        ),
        refused_turns=kinds[TurnRefused],
        handed_off_turns=kinds[TurnHandedOff],
        first_response_time_bot=Summary.of(first_responses),
        first_response_time_human=Summary.of(
            o.first_response_human_s for o in outcomes if o.first_response_human_s is not None
        ),
        first_response_time=Summary.of(
            o.first_response_any_s for o in outcomes if o.first_response_any_s is not None
        ),
        csat_answers=tuple(s.csat for s in surveys),
        ces_answers=tuple(s.ces for s in surveys),
        average_handling_time=Summary.of(
            o.handling_s for o in outcomes if o.handling_s is not None
        ),
        turn_latency_ms=Summary.of(t.latency_ms for t in turns),
        per_topic={
            topic: TopicContainment(
                conversations=len(group),
                handed_off=sum(o.handoff_trigger is not None for o in group),
            )
            for topic, group in sorted(topics.items(), key=lambda t: (-len(t[1]), t[0]))
        },
        top_refused_questions=tuple(
            sorted(refused.items(), key=lambda q: (-q[1], q[0]))[:TOP_REFUSED_QUESTIONS]
        ),
        conversations_per_day=tuple(sorted(per_day.items())),
        behind=_behind(outcomes),
    )


def _behind(outcomes: list[_Outcome]) -> dict[str, tuple[str, ...]]:
    """The conversations behind each count, by metric key (see CONVERSATION_SETS)."""
    sets: dict[str, list[str]] = defaultdict(list)
    for o in outcomes:
        keys = ["engaged", "handed_off" if o.handoff_trigger is not None else "deflected"]
        if o.handoff_trigger is not None:
            keys.append(f"trigger:{o.handoff_trigger}")
        keys += ["resolution_confirmed"] * o.confirmed + ["resolution_assumed"] * o.assumed
        keys += ["refused"] * o.refused + ["surveyed"] * bool(o.surveys)
        keys += ["closest_match"] * o.closest_match
        keys += ["queued"] * o.queued + ["missed"] * o.missed
        keys.append(f"topic:{o.topic}")
        for key in keys:
            sets[key].append(o.conversation_id)
    return {key: tuple(sorted(ids)) for key, ids in sorted(sets.items())}


def _outcome(
    events: Sequence[Event],
    now: datetime,
    window: timedelta,
    hours: BusinessHours | None = None,
    zone: tzinfo = UTC,
) -> _Outcome | None:
    """The outcome of one conversation from its events in seq order; None when not engaged."""
    first_message = next((i for i, e in enumerate(events) if isinstance(e, CustomerMessaged)), None)
    if first_message is None:
        return None
    asked_at = events[first_message].at

    handoffs = [i for i, e in enumerate(events) if _is_handoff(e)]
    positive = [i for i, e in enumerate(events) if isinstance(e, FeedbackGiven) and e.helpful]
    confirmed = bool(positive) and not any(h > positive[-1] for h in handoffs)

    bot_turns = [i for i, e in enumerate(events) if isinstance(e, BotTurn)]
    last_turn = bot_turns[-1] if bot_turns else None
    assumed = pending = False
    if last_turn is not None and isinstance(events[last_turn], TurnAnswered):
        reopened = any(
            isinstance(e, CustomerMessaged) or (isinstance(e, FeedbackGiven) and not e.helpful)
            for e in events[last_turn + 1 :]
        )
        if not confirmed and not handoffs and not reopened:
            assumed = now - events[last_turn].at >= window
            pending = not assumed

    first_reply = next((i for i in bot_turns if i > first_message), None)
    agent_replies = [i for i, e in enumerate(events) if isinstance(e, AgentReplied)]
    first_agent_reply = next((i for i in agent_replies if handoffs and i > handoffs[0]), None)
    first_any = min(
        (
            i
            for i in (first_reply, next((i for i in agent_replies if i > first_message), None))
            if i is not None
        ),
        default=None,
    )
    resolved = [
        i
        for i, e in enumerate(events)
        if i > first_message
        and isinstance(e, StatusChanged)
        and e.to_status == ConversationStatus.RESOLVED
    ]
    handling_s = None
    if resolved:
        handling_s = _seconds(asked_at, events[resolved[-1]].at)
    elif assumed and last_turn is not None:
        handling_s = _seconds(asked_at, events[last_turn].at)

    moves = [e for e in events if isinstance(e, StatusChanged)]
    open_s = None
    if hours is not None and first_agent_reply is not None:
        open_s = hours.open_seconds(events[handoffs[0]].at, events[first_agent_reply].at)
    return _Outcome(
        queued=any(e.to_status == ConversationStatus.WAITING for e in moves),
        missed=any(
            e.from_status == ConversationStatus.WAITING and e.reason == MISSED_REASON for e in moves
        ),
        first_response_human_open_s=open_s,
        handoff_trigger=_trigger(events[handoffs[0]]) if handoffs else None,
        confirmed=confirmed,
        assumed=assumed,
        pending=pending,
        first_response_s=(
            _seconds(asked_at, events[first_reply].at) if first_reply is not None else None
        ),
        first_response_human_s=(
            _seconds(events[handoffs[0]].at, events[first_agent_reply].at)
            if first_agent_reply is not None
            else None
        ),
        first_response_any_s=(
            _seconds(asked_at, events[first_any].at) if first_any is not None else None
        ),
        handling_s=handling_s,
        topic=next((e.topic for e in events if isinstance(e, BotTurn) and e.topic), NO_TOPIC),
        surveys=tuple(e for e in events if isinstance(e, SurveyAnswered)),
        conversation_id=events[0].conversation_id,
        started_on=events[0].at.astimezone(zone).date().isoformat(),
        refused=any(isinstance(e, TurnRefused) for e in events),
        closest_match=any(
            isinstance(e, TurnClarifying) and e.reason == CLOSEST_MATCH for e in events
        ),
    )


def _is_handoff(event: Event) -> bool:
    if isinstance(event, TurnHandedOff):
        return True
    return isinstance(event, StatusChanged) and event.to_status in HANDOFF_STATUSES


def _trigger(handoff: Event) -> str:
    if isinstance(handoff, TurnHandedOff):
        return handoff.trigger or UNSPECIFIED
    assert isinstance(handoff, StatusChanged)
    return handoff.reason or UNSPECIFIED


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _seconds(since: datetime, until: datetime) -> float:
    return (until - since).total_seconds()


def _percentile(ordered: Sequence[float], percent: int) -> float:
    # integer arithmetic for the rank, so p50 of an odd count is exactly the middle sample
    rank, part = divmod((len(ordered) - 1) * percent, 100)
    if part == 0:
        return float(ordered[rank])
    low, high = ordered[rank], ordered[rank + 1]
    return low + (high - low) * part / 100


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
