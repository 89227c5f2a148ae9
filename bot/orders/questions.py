"""The order question in a conversation ("我的訂單到哪了", "where is my order"): the bot asks for
the order number and for the phone number or email on the order, and answers only when they
match. A reply before that reveals nothing about any order, not even whether it exists; a
customer whose details fail to match `attempts` times is handed to a person.

A customer already verified on their channel needs not repeat the proof: when one of their
verified contact points (bot/customers/contacts.py: the shop's signed customer id, or an order
they proved theirs earlier, on any identity linked with this one) is the order's phone or
e-mail, the order is theirs (the lookup is `verified` with reason `verified_identity`).
Otherwise the bot asks for the phone or e-mail as before, revealing nothing.

The step runs before normal answering and keeps its state in the bot's own turns (their
agent-only details), so it needs nothing beyond the conversation's log. Order details go only
into the reply to the verified customer: never into retrieval, the LLM or the unanswered
report (the turns are answered turns with no question text)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.answering.texts import Language
from bot.conversation.events import (
    BotTurn,
    Event,
    OrderLookup,
    Recorded,
    StatusChanged,
    TurnAnswered,
)
from bot.conversation.status import ConversationStatus
from bot.orders.erp import LookupUnavailable
from bot.orders.lookup import OrderBook
from bot.orders.model import Order
from bot.orders.texts import STATUS_NAMES, say

ORDER_MODE = "order"  # the answer_mode of the bot's order turns
HANDOFF_REASON = "order_verification_failed"

_ASKS_ZH = re.compile(
    r"訂單.{0,12}(到哪|進度|狀態|出貨|寄出|到了|送達|在哪|查詢|查一下|物流|配送|追蹤|還沒到)"
    r"|(包裹|貨|東西|商品|訂的).{0,8}(到哪|還沒到|何時到|什麼時候到|寄出了|出貨了|寄了)"
    r"|(出貨|寄出|發貨)了(嗎|沒)|物流(進度|狀態)|查.{0,4}(訂單|包裹|物流)"
)
_ASKS_EN = re.compile(
    r"where('?s| is| are) (my|the) (order|package|parcel)"
    r"|order status|status of (my )?order"
    r"|track(ing)? (my |an |the )?(order|package|parcel)"
    r"|(has|was|did|is) (my|the) (order|package|parcel)"
    r"|(my|the) order.{0,30}(ship|arriv|deliver)"
    r"|when will (my|the) (order|package|parcel)",
    re.IGNORECASE,
)
# Asking what a status word means is a question for the FAQ, not a lookup.
_GENERAL = re.compile(r"什麼意思|是什麼|what does .{1,40} mean", re.IGNORECASE)
_TOKEN = r"([A-Za-z0-9][A-Za-z0-9-]{1,30})"
_NUMBER_MARKED = re.compile(
    r"(?:訂單(?:編號|號碼|號)?|order(?:\s*(?:number|no\.?|id))?)\s*(?:是|為|:|：)?\s*#?\s*"
    + _TOKEN
    # "order 10 bottles" is a quantity, not an order number
    + r"(?!\s*(?:pcs|pieces|items|units|bottles|boxes|sets|packs|of)\b)"
    + r"|#\s*"
    + _TOKEN,
    re.IGNORECASE,
)
_NUMBER_BARE = re.compile(r"(?<![A-Za-z0-9-])" + _TOKEN + r"(?![A-Za-z0-9-])")
PHONE = re.compile(
    r"(?<![\d+])(?:\+\s?886[\s-]?\(?0?\)?|886[\s-]?|0)9\d{2}[\s-]?\d{3}[\s-]?\d{3}(?!\d)"
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def asks_about_order(text: str) -> bool:
    if _GENERAL.search(text):
        return False
    return bool(_ASKS_ZH.search(text) or _ASKS_EN.search(text) or _marked_number(text))


def contact_in(text: str) -> str | None:
    """The phone number or email written in `text`, as written."""
    found = EMAIL.search(text) or PHONE.search(text)
    return found.group(0) if found else None


def order_number_in(text: str, *, expecting: bool = False) -> str | None:
    """The order number in `text`: "#1001", "訂單編號 1001", "order 1001"; a bare "1001" only
    when the bot has just asked for one. Phone numbers and emails are never order numbers."""
    text = EMAIL.sub(" ", PHONE.sub(" ", text))
    marked = _marked_number(text)
    if marked is not None or not expecting:
        return marked
    for match in _NUMBER_BARE.finditer(text):
        if any(c.isdigit() for c in match.group(1)):
            return match.group(1)
    return None


def _marked_number(text: str) -> str | None:
    for match in _NUMBER_MARKED.finditer(EMAIL.sub(" ", PHONE.sub(" ", text))):
        token = match.group(1) or match.group(2)
        if any(c.isdigit() for c in token):
            return token
    return None


@dataclass(frozen=True)
class OrderStep:
    """What the order step did with a message: the events to log (the last is the bot's turn)
    and whether the conversation now goes to a person."""

    events: list[Event]
    hand_off: bool = False
    reason: str = HANDOFF_REASON  # the status change's reason when it hands off


@dataclass(frozen=True)
class _State:
    waiting: str | None  # "number" or "contact" when the bot's last turn asked for it
    number: str | None
    failures: int  # details that failed to match since the last hand-off
    language: str | None  # the language of the bot's last order turn


VERIFIED_IDENTITY = "verified_identity"  # the reason of a lookup verified by the identity


class OrderQuestions:
    def __init__(
        self,
        book: OrderBook,
        attempts: int = 3,
        verified_contacts: Callable[[str], set[str]] | None = None,
    ) -> None:
        """`verified_contacts(conversation_id)`: the verified e-mails (lower-case) and phones
        (+886…) of the conversation's customer."""
        self.book = book
        self.attempts = max(1, attempts)
        self.verified_contacts = verified_contacts

    def step(
        self, conversation_id: str, text: str, language: str, history: list[Recorded]
    ) -> OrderStep | None:
        """The bot's turn if `text` is (part of) an order question, None to answer normally."""
        state = _state(history)
        asking = asks_about_order(text)
        if state.waiting is None and not asking:
            return None
        if not self.book.enabled():
            return None
        if state.waiting is not None and not asking and state.language is not None:
            # a bare number, phone or email says nothing of the customer's language
            language = state.language
        lang: Language = "en" if language == "en" else "zh"
        number = order_number_in(text, expecting=state.waiting is not None)
        contact = contact_in(text)
        if state.waiting is not None and not asking and number is None and contact is None:
            return None  # the customer moved on to something else
        events: list[Event] = []
        if state.waiting is None or (asking and number is not None and number != state.number):
            events.append(OrderLookup(conversation_id=conversation_id, stage="asked"))
        number = number or state.number
        if number is None:
            return self._reply(conversation_id, events, "order_ask_number", lang, "number")
        if contact is None:
            mine = self._owned_by_identity(conversation_id, number)
            if mine is not None:
                events.append(_lookup(conversation_id, "verified", VERIFIED_IDENTITY, mine.number))
                return self._answered(conversation_id, events, mine, lang)
            return self._reply(
                conversation_id, events, "order_ask_contact", lang, "contact", number
            )
        try:
            orders = self.book.find(number)
        except LookupUnavailable:
            events.append(_lookup(conversation_id, "failed", "unavailable", number))
            return self._reply(conversation_id, events, "order_unavailable", lang)
        owned = next((o for o in orders if o.owned_by(contact)), None)
        if owned is None:
            failures = state.failures + 1
            if failures >= self.attempts:
                events.append(_lookup(conversation_id, "failed", "handed_off", number))
                step = self._reply(conversation_id, events, "order_handed_off", lang)
                return OrderStep(step.events, hand_off=True)
            events.append(_lookup(conversation_id, "failed", "not_verified", number))
            return self._reply(
                conversation_id, events, "order_not_verified", lang, "contact", number
            )
        events.append(_lookup(conversation_id, "verified", "", owned.number))
        return self._answered(conversation_id, events, owned, lang)

    def _answered(
        self, conversation_id: str, events: list[Event], order: Order, language: Language
    ) -> OrderStep:
        events.append(_lookup(conversation_id, "answered", "", order.number))
        events.append(_turn(conversation_id, answer(order, language), language, None, order.number))
        return OrderStep(events)

    def _owned_by_identity(self, conversation_id: str, number: str) -> Order | None:
        """The order `number` when the customer's verified contacts include its phone or
        e-mail; None otherwise (or when the lookup fails: the bot then asks, as usual)."""
        if self.verified_contacts is None:
            return None
        mine = self.verified_contacts(conversation_id)
        if not mine:
            return None
        try:
            orders = self.book.find(number)
        except LookupUnavailable:
            return None
        return next((o for o in orders if mine & {o.email, o.phone}), None)

    def _reply(
        self,
        conversation_id: str,
        events: list[Event],
        key: str,
        language: Language,
        waiting: str | None = None,
        number: str | None = None,
    ) -> OrderStep:
        events.append(_turn(conversation_id, say(key, language), language, waiting, number))
        return OrderStep(events)


def answer(order: Order, language: Language) -> str:
    """The verified customer's answer: status, carrier, tracking number and link, expected
    delivery."""
    status = STATUS_NAMES.get(order.status, {}).get(language, order.status)
    lines = [say("order_status", language, number=order.number, status=status)]
    if order.carrier:
        lines.append(say("order_carrier", language, carrier=order.carrier))
    if order.tracking_number:
        lines.append(say("order_tracking", language, tracking=order.tracking_number))
    if order.tracking_url:
        lines.append(say("order_tracking_url", language, url=order.tracking_url))
    if order.expected_delivery:
        lines.append(say("order_expected", language, date=order.expected_delivery))
    if order.status in ("pending", "processing", "on_hold") and not order.tracking_number:
        lines.append(say("order_not_shipped", language))
    return "\n".join(lines)


def _lookup(conversation_id: str, stage: str, reason: str, number: str | None) -> OrderLookup:
    return OrderLookup(
        conversation_id=conversation_id, stage=stage, reason=reason, order_number=number
    )


def _turn(
    conversation_id: str,
    reply: str,
    language: Language,
    waiting: str | None,
    number: str | None,
) -> TurnAnswered:
    order: dict[str, Any] = {"waiting": waiting, "number": number}
    return TurnAnswered(
        conversation_id=conversation_id,
        question="",  # nothing of the customer's message reaches follow-ups or reports
        language=language,
        reply=reply,
        reason="order_lookup",
        confidence=1.0,
        answer_mode=ORDER_MODE,
        details={"order": order},
    )


def _state(history: list[Recorded]) -> _State:
    failures = 0
    waiting: str | None = None
    number: str | None = None
    language: str | None = None
    for recorded in history:
        event = recorded.event
        if isinstance(event, OrderLookup) and event.stage == "failed":
            if event.reason == "not_verified":
                failures += 1
            elif event.reason == "handed_off":
                failures = 0
        elif isinstance(event, OrderLookup) and event.stage == "verified":
            failures = 0
        elif isinstance(event, StatusChanged) and event.to_status != ConversationStatus.BOT:
            waiting = None  # a person took over: the bot's question is no longer open
        elif isinstance(event, BotTurn):
            order = event.details.get("order") if event.answer_mode == ORDER_MODE else None
            waiting = order.get("waiting") if isinstance(order, dict) else None
            number = order.get("number") if isinstance(order, dict) else None
            language = event.language
    return _State(waiting, number if waiting else None, failures, language)
