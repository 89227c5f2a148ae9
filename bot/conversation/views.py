"""Views of one conversation's log: what a reader of a single conversation needs to know,
read from its events (the queue, the packet, the gate and the answerer all read these).

Reports across many conversations live in `bot.reports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.answering.answerer import AnswerContext
from bot.answering.language import CustomerLanguage
from bot.conversation.events import (
    BotTurn,
    CustomerMessaged,
    ImageShared,
    Recorded,
    StatusChanged,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
)
from bot.conversation.flows import Actor
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation

if TYPE_CHECKING:
    from handoff.gate import PastTurn


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
    """The display name of the agent who has the conversation (its assignee), as the claim,
    assignment or transfer recorded it; the username when none names one; None when nobody
    has it."""
    if not conversation.assignee:
        return None
    claimed_by = Actor.agent(conversation.assignee).label
    for recorded in reversed(events):
        event = recorded.event
        if not isinstance(event, StatusChanged):
            continue
        if event.assignee == conversation.assignee and event.assignee_name:
            return event.assignee_name
        if event.actor == claimed_by and event.assignee in (None, conversation.assignee):
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


def last_customer_text(events: Sequence[Recorded]) -> str | None:
    return next(
        (r.event.text for r in reversed(events) if isinstance(r.event, CustomerMessaged)),
        None,
    )


def past_turns(history: Sequence[Recorded]) -> list[PastTurn]:
    """The customer's earlier messages with the bot's decision on each, oldest first."""
    from handoff.gate import PastTurn

    past: list[PastTurn] = []
    for recorded in history:
        event = recorded.event
        if isinstance(event, CustomerMessaged):
            past.append(PastTurn(event.text, None, None))
        elif isinstance(event, BotTurn) and past and past[-1].decision is None:
            score = event.details.get("gate", {}).get("sentiment")
            past[-1] = PastTurn(
                past[-1].text,
                event.decision.value,
                float(score) if isinstance(score, int | float) else None,
            )
    return past


def last_language(
    history: Sequence[Recorded], conversation: Conversation
) -> CustomerLanguage | None:
    """The language of the customer's last message, else the conversation's own."""
    for recorded in reversed(history):
        if isinstance(recorded.event, CustomerMessaged) and recorded.event.language in ("zh", "en"):
            return recorded.event.language  # type: ignore[return-value]
    if conversation.language in ("zh", "en"):
        return conversation.language  # type: ignore[return-value]
    return None


def answer_context(history: Sequence[Recorded]) -> AnswerContext:
    """The last bot turn's question (for follow-ups) and options (for a clarifying question)."""
    for recorded in reversed(history):
        event = recorded.event
        if isinstance(event, TurnClarifying):
            return AnswerContext(
                previous_question=event.question,
                options=event.options,
                option_items=tuple(c.item_id for c in event.citations),
            )
        if isinstance(event, TurnAnswered):
            return AnswerContext(previous_question=event.question)
        if isinstance(event, BotTurn):
            return AnswerContext()
    return AnswerContext()


def shared_image(events: Sequence[Recorded], attachment_id: str) -> ImageShared | None:
    """The event that put picture `attachment_id` into this conversation, if one did."""
    for recorded in events:
        event = recorded.event
        if isinstance(event, ImageShared) and event.attachment_id == attachment_id:
            return event
    return None
