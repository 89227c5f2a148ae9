"""Conversations as the customer sees them: start one, send a message, get the bot's turn.

The service logs every step as a typed event (the customer's message first, so nothing is
lost if answering fails), keeps the bot silent while a person owns the conversation, and
turns two messages sent at once into two turns, one after the other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.answering.answerer import Answerer, Outcome
from bot.answering.language import CustomerLanguage, detect_customer_language
from bot.answering.texts import Language, opening_time, say
from bot.conversation.events import (
    AgentsUnavailable,
    BotTurn,
    CustomerMessaged,
    CustomerSentImage,
    Decision,
    Event,
    FeedbackGiven,
    OfflineMessageLeft,
    Recorded,
    StatusChanged,
    SurveyAnswered,
    TurnAnswered,
    TurnClarifying,
    TurnHandedOff,
    TurnRefused,
    now,
)
from bot.conversation.feed import EventFeed
from bot.conversation.flows import (
    BOT,
    CUSTOMER,
    ConversationFlows,
    CustomerCameBack,
    HandoffRequested,
    ReturnedToBot,
)
from bot.conversation.status import ConversationStatus, InvalidTransition
from bot.conversation.store import Conversation, ConversationStore, LogMoved
from bot.conversation.views import answer_context, last_language, past_turns
from bot.privacy.redaction import redact
from handoff.hours import Availability
from ingest.plain_text import UnsafeText, is_blank, plain_text

if TYPE_CHECKING:
    from bot.attachments.store import AttachmentStore
    from bot.orders.questions import OrderQuestions
    from handoff.gate import Gate, GateVerdict, PastTurn

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_CHARS = re.compile(r"^\+?[0-9 ()#-]+$")
MAX_OFFLINE_MESSAGE_CHARS = 2000

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
    # a handoff's: whether someone could answer (None: no handoff in this turn)
    availability: Availability | None = None


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
        orders: OrderQuestions | None = None,
        availability: Callable[[], Availability] | None = None,
        attachments: AttachmentStore | None = None,
    ) -> None:
        self.store = store
        self.attachments = attachments  # where pictures are kept; None: none are taken
        self.orders = orders  # order questions, answered before normal answering
        # who could answer a handoff now; None: always someone (every handoff queues)
        self.availability = availability
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
        self,
        channel: str = "web",
        customer_id: str | None = None,
        language: str | None = None,
        *,
        customer_hint: str | None = None,
        token_digest: str | None = None,
    ) -> Conversation:
        """A new conversation. `customer_id` names a customer whose identity is verified (it
        joins their earlier conversations); `customer_hint` is one the customer merely gave."""
        conversation = self.store.create(
            channel, customer_id, language, customer_hint=customer_hint, token_digest=token_digest
        )
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
        # cards, ids and bank accounts are masked before anything keeps or reads the message
        redaction = redact(text)
        text = redaction.text
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            history = self.store.events(conversation_id)
            language = detect_customer_language(text, last_language(history, conversation))
            message = self.store.append(
                CustomerMessaged(
                    conversation_id=conversation_id,
                    text=text,
                    language=language,
                    redacted=redaction.kinds,
                )
            )
            self.feed.notify(conversation_id)
            if conversation.status == ConversationStatus.RESOLVED:
                self.flows.apply(conversation_id, CustomerCameBack())
            elif conversation.status != ConversationStatus.BOT:
                self.flows.queue_changed()  # the queue shows the last message, and who wrote
                return TurnResult(conversation, message, None)
            return self._reply(message, history)

    def send_image(self, conversation_id: str, data: bytes) -> Recorded:
        """Keep the customer's picture and log it (CustomerSentImage); ImageRefused when it is
        no image kefu keeps. The bot reads no pictures and stays silent: the agent who has (or
        takes) the conversation sees it, and a resolved conversation opens again as a new
        message would open it."""
        if self.attachments is None:
            raise MessageRejected("images_off", "error_images_off")
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            stored = self.attachments.accept(conversation_id, data)
            recorded = self.store.append(
                CustomerSentImage(conversation_id=conversation_id, **stored.event_fields())
            )
            self.feed.notify(conversation_id)
            if conversation.status == ConversationStatus.RESOLVED:
                self.flows.apply(conversation_id, CustomerCameBack())
            elif conversation.status != ConversationStatus.BOT:
                self.flows.queue_changed()
        return recorded

    def answer_logged(self, conversation_id: str) -> TurnResult | None:
        """The bot's turn for a customer's message that was logged and never answered (the
        process stopped between the two), without logging the message again. None when there
        is nothing to answer: the latest event is not a customer's message, or a person owns
        the conversation. Safe to run twice at once, in one process (the conversation's lock)
        or in two (the turn is written only right after the message: one writer wins)."""
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            history = self.store.events(conversation_id)
            if (
                conversation.status != ConversationStatus.BOT
                or not history
                or not isinstance(history[-1].event, CustomerMessaged)
            ):
                return None
            try:
                return self._reply(history[-1], history[:-1], written_after=history[-1].seq)
            except LogMoved:
                return None  # another process answered it, or the customer wrote again

    def answer_unanswered(self, since: datetime) -> int:
        """Answer every customer's message logged since `since` that is still the latest event
        of a conversation the bot owns (e.g. after a crash); how many were answered."""
        answered = 0
        for message in self.store.awaiting_reply(since):
            try:
                if self.answer_logged(message.event.conversation_id) is not None:
                    answered += 1
            except Exception:  # one conversation that fails must not stop the others
                log.exception("conversation.recovery_failed", extra={"seq": message.seq})
        return answered

    def _reply(
        self, message: Recorded, history: list[Recorded], written_after: int | None = None
    ) -> TurnResult:
        """Answer a logged customer's message (`history`: the events before it), under the
        conversation's lock. `written_after`: the first event written must follow that seq
        directly (else LogMoved)."""
        said = message.event
        assert isinstance(said, CustomerMessaged)
        conversation_id, text = said.conversation_id, said.text
        language: CustomerLanguage = "en" if said.language == "en" else "zh"
        if self.orders is not None:
            order_turn = self._order_step(conversation_id, text, language, history, written_after)
            if order_turn is not None:
                return TurnResult(self.store.get(conversation_id), message, order_turn)
        past = past_turns(history)
        with self._answering:
            # the answer is wanted even when the gate hands off (the agent's suggested reply)
            # and decides the rest of its verdict; answering first lets the gate read the
            # message's vector retrieval computed instead of encoding it again
            outcome = self.answerer.answer(text, language, answer_context(history))
            before = self.gate.before_answer(text, language, past) if self.gate else None
            verdict = self._verdict(before, text, outcome, past)
        available = None
        if verdict is not None and verdict.trigger is not None:
            available = self._available()
            nobody = None if available.agents_available else available
            event = _handed_off_event(conversation_id, outcome, verdict, nobody)
            if nobody is None:
                # the turn and the move in one transaction: a crash between the two would
                # leave a handed-off turn in a conversation the bot still owns
                turn = self._handed_off(
                    conversation_id, [event], HandoffRequested(BOT, verdict.trigger), written_after
                )
            else:
                turn = self.store.append(event, after_seq=written_after)
                self._nobody_there(
                    conversation_id, event.language, nobody, verdict.trigger, event.reply
                )
        else:
            outcome = acknowledged(outcome, verdict)
            turn = self.store.append(
                _turn_event(conversation_id, outcome, verdict), after_seq=written_after
            )
        self.feed.notify(conversation_id)
        return TurnResult(self.store.get(conversation_id), message, turn, available)

    def _order_step(
        self,
        conversation_id: str,
        text: str,
        language: str,
        history: list[Recorded],
        written_after: int | None = None,
    ) -> Recorded | None:
        """An order question's turn (bot/orders/questions.py), None when this is not one."""
        assert self.orders is not None
        step = self.orders.step(conversation_id, text, language, history)
        if step is None:
            return None
        if step.hand_off:
            moved = HandoffRequested(BOT, step.reason)
            turn = self._handed_off(conversation_id, step.events, moved, written_after)
        else:
            turn = [
                self.store.append(event, after_seq=written_after if i == 0 else None)
                for i, event in enumerate(step.events)
            ][-1]
        self.feed.notify(conversation_id)
        return turn

    def _handed_off(
        self,
        conversation_id: str,
        turn: list[Event],
        handoff: HandoffRequested,
        written_after: int | None,
    ) -> Recorded:
        """Log the bot's turn (its events) and the handoff it makes in one transaction; the
        turn's last event as logged (its seq comes right before the move's)."""
        moved = self.flows.apply(
            conversation_id, handoff, preceded_by=turn, after_seq=written_after
        )
        return self.store.events(conversation_id, after_seq=moved.seq - 2)[0]

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
        """The customer asked for a person (the widget's button): into the human queue, or,
        when nobody could answer now, told so (an AgentsUnavailable) and left with the bot."""
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            if conversation.status != ConversationStatus.BOT:
                # queued already, with a person, or resolved: a customer's request never takes
                # the conversation from its agent (the table allows with_agent → waiting, for
                # an agent's own unassign)
                raise InvalidTransition(conversation.status, ConversationStatus.WAITING)
            available = self._available()
            if available.agents_available:
                return self.flows.apply(conversation_id, HandoffRequested(CUSTOMER, reason))
            language = last_language(self.store.events(conversation_id), conversation) or "zh"
            return self._nobody_there(conversation_id, language, available, reason)

    def back_to_bot(self, conversation_id: str) -> Recorded:
        """A waiting customer goes back to the bot: out of the queue, the bot answers again."""
        return self.flows.apply(
            conversation_id,
            ReturnedToBot(CUSTOMER, "customer_back_to_bot", expected=ConversationStatus.WAITING),
        )

    def leave_message(
        self, conversation_id: str, text: str, email: str | None, phone: str | None
    ) -> Recorded:
        """A message for the agents while nobody is there, with a way to reach the customer
        (an email, a phone number or both)."""
        text = text.strip()
        if not text:
            raise MessageRejected("empty_message", "error_empty_message")
        if len(text) > MAX_OFFLINE_MESSAGE_CHARS:
            raise MessageRejected(
                "message_too_long", "error_message_too_long", limit=MAX_OFFLINE_MESSAGE_CHARS
            )
        email = (email or "").strip() or None
        phone = (phone or "").strip() or None
        if email is None and phone is None:
            raise MessageRejected("no_contact", "error_no_contact")
        if email is not None and (len(email) > 254 or not EMAIL.match(email)):
            raise MessageRejected("bad_email", "error_bad_email")
        if phone is not None:
            digits = sum(c.isdigit() for c in phone)
            if not PHONE_CHARS.match(phone) or not 8 <= digits <= 15 or len(phone) > 30:
                raise MessageRejected("bad_phone", "error_bad_phone")
        with self.lock_for(conversation_id):
            conversation = self.store.get(conversation_id)
            language = detect_customer_language(
                text, last_language(self.store.events(conversation_id), conversation)
            )
            recorded = self.store.append(
                OfflineMessageLeft(
                    conversation_id=conversation_id,
                    text=text,
                    language=language,
                    email=email,
                    phone=phone,
                )
            )
        self.feed.notify(conversation_id)
        self.flows.queue_changed()  # the agents' inbox
        return recorded

    def _available(self) -> Availability:
        if self.availability is None:
            return Availability(open_now=True, agents_available=True, next_open=None)
        return self.availability()

    def _nobody_there(
        self,
        conversation_id: str,
        language: str,
        available: Availability,
        trigger: str,
        said: str | None = None,
    ) -> Recorded:
        recorded = self.store.append(
            AgentsUnavailable(
                conversation_id=conversation_id,
                language=language,
                reply=said or nobody_available_text(available, language),
                open_now=available.open_now,
                next_open=available.next_open.isoformat() if available.next_open else None,
                trigger=trigger,
                in_turn=said is not None,
            )
        )
        self.feed.notify(conversation_id)
        return recorded

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


def nobody_available_text(available: Availability, language: str) -> str:
    """What a customer is told when a handoff finds nobody: when people are back (in their
    language, in the shop's time zone), and the offer of a message."""
    lang: Language = "en" if language == "en" else "zh"
    when = available.next_open
    if when is None:
        return say("nobody_available", lang)
    today = (available.at or now()).astimezone(when.tzinfo)
    return say("nobody_available_until", lang, when=opening_time(when, today, lang))


def _handed_off_event(
    conversation_id: str,
    outcome: Outcome,
    verdict: GateVerdict,
    nobody: Availability | None = None,
) -> BotTurn:
    """The gate handed off: the customer is told so (or, with nobody there, that nobody is
    and when they are back); the answer the bot would have given is kept in the details, for
    the agent's suggested reply."""
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
        reply=(
            say("handed_off", "en" if language == "en" else "zh")
            if nobody is None
            else nobody_available_text(nobody, language)
        ),
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
