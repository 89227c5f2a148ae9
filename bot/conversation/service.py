"""Conversations as the customer sees them: start one, send a message, get the bot's turn.

The service logs every step as a typed event (the customer's message first, so nothing is
lost if answering fails), keeps the bot silent while a person owns the conversation, and
turns two messages sent at once into two turns, one after the other.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.answering.answerer import Answerer, Outcome
from bot.answering.language import detect_customer_language
from bot.answering.texts import Language, say
from bot.conversation.events import (
    BotTurn,
    CustomerMessaged,
    Decision,
    FeedbackGiven,
    Recorded,
    StatusChanged,
    SurveyAnswered,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
)
from bot.conversation.feed import EventFeed
from bot.conversation.flows import (
    BOT,
    CUSTOMER,
    ConversationFlows,
    CustomerCameBack,
    HandoffRequested,
)
from bot.conversation.status import ConversationStatus
from bot.conversation.store import Conversation, ConversationStore
from bot.conversation.views import answer_context, last_language, past_turns
from ingest.plain_text import UnsafeText, is_blank, plain_text

if TYPE_CHECKING:
    from handoff.gate import Gate, GateVerdict, PastTurn

TURN_TYPES: dict[Decision, type[BotTurn]] = {
    Decision.ANSWERED: TurnAnswered,
    Decision.CLARIFYING: TurnClarifying,
    Decision.REFUSED: TurnRefused,
}


class MessageRejected(ValueError):
    """A message the bot cannot take; `code` is stable, the texts are for the customer."""

    def __init__(self, code: str, key: str, **values: object) -> None:
        super().__init__(say(key, "en", **values))
        self.code = code
        self.key = key
        self.values = values


class SurveyRefused(Exception):
    """The survey cannot be taken now; `code`: survey_not_open or survey_already_answered."""

    def __init__(self, code: str, key: str) -> None:
        super().__init__(say(key, "en"))
        self.code = code
        self.key = key


@dataclass(frozen=True)
class TurnResult:
    conversation: Conversation
    message: Recorded  # the customer's message as logged
    turn: Recorded | None  # the bot's turn; None while a person owns the conversation


class ConversationService:
    def __init__(
        self,
        store: ConversationStore,
        answerer: Answerer,
        *,
        feed: EventFeed | None = None,
        max_message_chars: int = 4000,
        gate: Gate | None = None,
        waiting: Callable[[], list[str]] | None = None,
    ) -> None:
        self.store = store
        self.answerer = answerer
        self.feed = feed or EventFeed()
        self.max_message_chars = max_message_chars
        self.gate = gate
        self.flows = ConversationFlows(store, self.feed, waiting=waiting)
        self.lock_for = self.flows.lock_for
        # As many turns answer at once as there are cores: more only makes every turn wait
        # for the CPU (measured with eval/bench_chat.py: answerer p50 540 → 135 ms at 20
        # customers on 2 cores).
        self._answering = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def start(
        self, channel: str = "web", customer_id: str | None = None, language: str | None = None
    ) -> Conversation:
        conversation = self.store.create(channel, customer_id, language)
        self.feed.notify(conversation.id)
        return conversation

    def send(self, conversation_id: str, text: str) -> TurnResult:
        """Log the customer's message and, while the bot owns the conversation, answer it."""
        try:
            text = plain_text(text)
        except UnsafeText as unsafe:
            raise MessageRejected(unsafe.code, f"error_{unsafe.code}") from None
        if is_blank(text):
            raise MessageRejected("empty_message", "error_empty_message")
        text = text.strip()
        if len(text) > self.max_message_chars:
            raise MessageRejected(
                "message_too_long", "error_message_too_long", limit=self.max_message_chars
            )
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            history = self.store.events(conversation_id)
            language = detect_customer_language(text, last_language(history, conversation))
            message = self.store.append(
                CustomerMessaged(conversation_id=conversation_id, text=text, language=language)
            )
            self.feed.notify(conversation_id)
            if conversation.status == ConversationStatus.RESOLVED:
                self.flows.apply(conversation_id, CustomerCameBack())
            elif conversation.status != ConversationStatus.BOT:
                self.flows.queue_changed()  # the queue shows the last message, and who wrote
                return TurnResult(conversation, message, None)
            past = past_turns(history)
            with self._answering:
                # the gate reads the message first; the answer is still wanted when it hands
                # off (the agent's suggested reply) and decides the rest of its verdict
                before = self.gate.before_answer(text, language, past) if self.gate else None
                outcome = self.answerer.answer(text, language, answer_context(history))
                verdict = self._verdict(before, text, outcome, past)
            if verdict is not None and verdict.trigger is not None:
                turn = self.store.append(_handed_off_event(conversation_id, outcome, verdict))
                self.flows.apply(conversation_id, HandoffRequested(BOT, verdict.trigger))
            else:
                outcome = acknowledged(outcome, verdict)
                turn = self.store.append(_turn_event(conversation_id, outcome, verdict))
            self.feed.notify(conversation_id)
            return TurnResult(self.store.get(conversation_id), message, turn)

    def _verdict(
        self, before: GateVerdict | None, text: str, outcome: Outcome, past: list[PastTurn]
    ) -> GateVerdict | None:
        """The gate's verdict on this message and the bot's answer to it (in shadow mode:
        recorded, never acted on)."""
        if self.gate is None or before is None:
            return None
        verdict = before
        if verdict.trigger is None:
            verdict = self.gate.after_answer(text, outcome.decision.value, verdict, past)
        if self.gate.settings.shadow and verdict.trigger is not None:
            signals = {**verdict.signals, "shadow_trigger": verdict.trigger}
            verdict = dataclasses.replace(verdict, trigger=None, value=None, signals=signals)
        return verdict

    def request_person(self, conversation_id: str, reason: str = "customer_request") -> Recorded:
        """The customer asked for a person (the widget's button): into the human queue."""
        return self.flows.apply(conversation_id, HandoffRequested(CUSTOMER, reason))

    def queue_changed(self) -> None:
        self.flows.queue_changed()

    def survey(self, conversation_id: str, csat: int, ces: int, comment: str = "") -> Recorded:
        """The end-of-conversation survey, once per resolution."""
        if not 1 <= csat <= 5 or not 1 <= ces <= 7:
            raise ValueError("csat is 1-5 and ces is 1-7")
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            if conversation.status != ConversationStatus.RESOLVED:
                raise SurveyRefused("survey_not_open", "error_survey_not_open")
            for recorded in reversed(self.store.events(conversation_id)):
                if isinstance(recorded.event, SurveyAnswered):
                    raise SurveyRefused("survey_already_answered", "error_survey_answered")
                if isinstance(recorded.event, StatusChanged):
                    break  # the resolution this survey is about
            recorded = self.store.append(
                SurveyAnswered(
                    conversation_id=conversation_id, csat=csat, ces=ces, comment=comment.strip()
                )
            )
        self.feed.notify(conversation_id)
        return recorded

    def feedback(self, conversation_id: str, helpful: bool, turn_seq: int | None) -> Recorded:
        if turn_seq is not None:
            found = self.store.events(conversation_id, after_seq=turn_seq - 1)
            if not found or found[0].seq != turn_seq or not isinstance(found[0].event, BotTurn):
                raise ValueError(f"event {turn_seq} of this conversation is not a bot turn")
        recorded = self.store.append(
            FeedbackGiven(conversation_id=conversation_id, helpful=helpful, turn_seq=turn_seq)
        )
        self.feed.notify(conversation_id)
        return recorded

    def transcript(self, conversation_id: str) -> tuple[Conversation, list[Recorded]]:
        return self.store.get(conversation_id), self.store.events(conversation_id)


def _turn_event(
    conversation_id: str, outcome: Outcome, verdict: GateVerdict | None = None
) -> BotTurn:
    cls = TURN_TYPES[outcome.decision]
    extra: dict[str, Any] = {"options": outcome.options} if cls is TurnClarifying else {}
    details = outcome.details if verdict is None else {**outcome.details, "gate": _gate(verdict)}
    return cls(
        conversation_id=conversation_id,
        question=outcome.question,
        language=outcome.language,
        reply=outcome.reply,
        reason=outcome.reason,
        confidence=outcome.confidence,
        citations=outcome.citations,
        retrieved=outcome.retrieved,
        topic=outcome.topic,
        latency_ms=outcome.latency_ms,
        answer_mode=outcome.answer_mode,
        details=details,
        **extra,
    )


def _handed_off_event(conversation_id: str, outcome: Outcome, verdict: GateVerdict) -> BotTurn:
    """The gate handed off: the customer is told so; the answer the bot would have given is
    kept in the details, for the agent's suggested reply."""
    language = outcome.language
    would_have = {
        "decision": outcome.decision.value,
        "reply": outcome.reply,
        "citations": [dataclasses.asdict(c) for c in outcome.citations],
    }
    return TurnHandedOff(
        conversation_id=conversation_id,
        question=outcome.question,
        language=language,
        reply=say("handed_off", "en" if language == "en" else "zh"),
        reason=verdict.trigger or "",
        confidence=outcome.confidence,
        retrieved=outcome.retrieved,
        topic=outcome.topic,
        latency_ms=outcome.latency_ms,
        answer_mode=outcome.answer_mode,
        details={**outcome.details, "gate": _gate(verdict), "answer": would_have},
        trigger=verdict.trigger or "",
        trigger_value=verdict.value,
    )


def acknowledged(outcome: Outcome, verdict: GateVerdict | None) -> Outcome:
    """An answer to an upset customer: their mood acknowledged first (by what upset them, in
    their language), then the answer, then a person offered. Calm customers get the answer
    alone, and so does an upset one the bot did not answer (the gate hands that off)."""
    if verdict is None or verdict.mood != "upset" or outcome.decision != Decision.ANSWERED:
        return outcome
    language: Language = "en" if outcome.language == "en" else "zh"
    kind = verdict.signals.get("grievance") or "trouble"
    key = f"acknowledge_{kind}"
    reply = "\n\n".join((say(key, language), outcome.reply, say("offer_person", language)))
    return dataclasses.replace(
        outcome, reply=reply, details={**outcome.details, "acknowledged": key}
    )


def _gate(verdict: GateVerdict) -> dict[str, Any]:
    return {
        "trigger": verdict.trigger,
        "sentiment": verdict.sentiment,
        "mood": verdict.mood,
        "signals": verdict.signals,
    }
