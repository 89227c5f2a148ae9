"""The human queue: conversations waiting for a person, in the order agents should take them.

Priority = the trigger's weight + the customer's negativity × its weight + minutes waited ×
its weight. Waiting time keeps growing, so nobody waits for ever behind newer, angrier
customers. A waiting customer's position is their place in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel, Field

from bot.conversation.events import (
    BotTurn,
    CustomerMessaged,
    Recorded,
    StatusChanged,
    TurnHandedOff,
    now,
)
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationStore
from bot.tags import TagSettings, conversation_tags


class QueueSettings(BaseModel):
    trigger_weights: dict[str, float] = Field(
        default={
            "negative_sentiment": 3.0,
            "sentiment_worsening": 3.0,
            "upset_not_helped": 3.0,
            "sensitive_topic": 3.0,
            "explicit_request": 2.0,
            "customer_request": 2.0,
            "repeated_refusals": 2.0,
            "rephrased_question": 2.0,
            "complex_question": 1.0,
            "long_message": 1.0,
        },
        description="Priority each handoff trigger gives (others: 1).",
    )
    sentiment_weight: float = Field(
        default=2.0, description="Priority per unit of the customer's negativity (0-1)."
    )
    per_minute_weight: float = Field(
        default=0.5, description="Priority each minute of waiting adds."
    )


@dataclass(frozen=True)
class QueueEntry:
    conversation: Conversation
    priority: float
    position: int | None  # 1-based place among the waiting; None once a person has it
    waiting_since: datetime | None
    waited_s: float
    trigger: str | None
    trigger_value: float | str | None
    sentiment: float | None  # the highest negativity seen in the conversation
    last_message: str | None
    agent: str | None  # the username of the agent who has it
    agent_name: str | None = None  # their display name
    tags: tuple[str, ...] = ()  # what the customer asked about (bot.tags)


@dataclass(frozen=True)
class Handoff:
    """Why and when a conversation last went to the queue."""

    seq: int
    at: datetime
    trigger: str
    trigger_value: float | str | None


def last_handoff(events: Sequence[Recorded]) -> Handoff | None:
    for i in range(len(events) - 1, -1, -1):
        event = events[i].event
        if isinstance(event, StatusChanged) and event.to_status == ConversationStatus.WAITING:
            before = events[i - 1].event if i > 0 else None
            if isinstance(before, TurnHandedOff):
                return Handoff(events[i].seq, event.at, before.trigger, before.trigger_value)
            return Handoff(events[i].seq, event.at, event.reason or "customer_request", None)
    return None


def claimer_name(conversation: Conversation, events: Sequence[Recorded]) -> str | None:
    """The display name of the agent who claimed the conversation (its assignee), as the
    claim recorded it; the username when no claim names one; None when nobody has it."""
    if not conversation.assignee:
        return None
    claimed_by = f"agent:{conversation.assignee}"
    for recorded in reversed(events):
        event = recorded.event
        if isinstance(event, StatusChanged) and event.actor == claimed_by:
            return event.agent_name or conversation.assignee
    return conversation.assignee


def sentiments(events: Sequence[Recorded]) -> list[tuple[int, float, str]]:
    """(seq of the customer's message, its negativity, its text) as the gate recorded them."""
    found: list[tuple[int, float, str]] = []
    message: Recorded | None = None
    for recorded in events:
        event = recorded.event
        if isinstance(event, CustomerMessaged):
            message = recorded
        elif isinstance(event, BotTurn) and message is not None:
            score = event.details.get("gate", {}).get("sentiment")
            if isinstance(score, int | float):
                text = message.event.text  # type: ignore[attr-defined]
                found.append((message.seq, float(score), text))
            message = None
    return found


class HumanQueue:
    def __init__(
        self,
        store: ConversationStore,
        settings: QueueSettings | None = None,
        tags: TagSettings | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or QueueSettings()
        self.tags = tags or TagSettings()

    def entries(self) -> list[QueueEntry]:
        """Waiting conversations by priority (then by wait), then those with an agent."""
        at = now()
        waiting = [self._entry(c, at) for c in self.store.conversations(ConversationStatus.WAITING)]
        waiting.sort(key=lambda e: (-e.priority, e.waiting_since or at))
        ranked = [_placed(e, i + 1) for i, e in enumerate(waiting)]
        taken = [
            self._entry(c, at) for c in self.store.conversations(ConversationStatus.WITH_AGENT)
        ]
        taken.sort(key=lambda e: e.waiting_since or at)
        return ranked + taken

    def position(self, conversation_id: str) -> int | None:
        for entry in self.entries():
            if entry.conversation.id == conversation_id:
                return entry.position
        return None

    def waiting_ids(self) -> list[str]:
        return [c.id for c in self.store.conversations(ConversationStatus.WAITING)]

    def _entry(self, conversation: Conversation, at: datetime) -> QueueEntry:
        events = self.store.events(conversation.id)
        handoff = last_handoff(events)
        scores = [score for _, score, _ in sentiments(events)]
        sentiment = max(scores) if scores else None
        since = handoff.at if handoff else conversation.updated_at
        waited = max(0.0, (at - since).total_seconds())
        s = self.settings
        priority = (
            s.trigger_weights.get(handoff.trigger if handoff else "", 1.0)
            + s.sentiment_weight * (sentiment or 0.0)
            + s.per_minute_weight * waited / 60
        )
        last = next(
            (r.event.text for r in reversed(events) if isinstance(r.event, CustomerMessaged)),
            None,
        )
        return QueueEntry(
            conversation=conversation,
            priority=round(priority, 3),
            position=None,
            waiting_since=since,
            waited_s=round(waited, 1),
            trigger=handoff.trigger if handoff else None,
            trigger_value=handoff.trigger_value if handoff else None,
            sentiment=sentiment,
            last_message=last,
            agent=conversation.assignee,
            agent_name=claimer_name(conversation, events),
            tags=tuple(conversation_tags([r.event for r in events], self.tags)),
        )


def _placed(entry: QueueEntry, position: int) -> QueueEntry:
    return replace(entry, position=position)
