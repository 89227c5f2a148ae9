"""Orders that follow a conversation, and the conversion they make.

An order is attributed to a conversation when the same customer placed it after the
conversation started and no later than `window` after the conversation's last event; of
several such conversations, the last one started before the order gets it. The same customer
means a shared identity: the conversation's customer id (an email, a phone number or the
platform's customer id) or the contact details of an order the customer proved was theirs in
the conversation, against the order's email, phone and platform customer id. Cancelled,
refunded and failed orders are not counted.

Attribution is not causation: a customer who converses may have ordered anyway.

The baseline compares, where the orders allow it, with customers who did not converse: of the
shop's known customers (those with an order placed before the period), the share who ordered
during the period (its start to its end plus the window) among those who had an engaged
conversation in it and among those who had none. Customers are known by their orders' e-mail,
phone and platform customer id; orders that share any of them are one customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.conversation.events import (
    AgentReplied,
    BotTurn,
    ConversationStarted,
    CustomerMessaged,
    Event,
    OrderLookup,
    StatusChanged,
    TurnHandedOff,
)
from bot.conversation.status import ConversationStatus
from bot.orders.model import Order, normalise_email, normalise_phone

NOT_SALES = frozenset({"cancelled", "refunded", "failed"})
PERSON_STATUSES = frozenset({ConversationStatus.WAITING, ConversationStatus.WITH_AGENT})

DEFINITIONS: dict[str, dict[str, str]] = {
    "conversion_rate": {
        "en": "Engaged conversations followed by an order of the same customer (placed after "
        "the conversation began and within the attribution window after its last event) ÷ "
        "engaged conversations. An order counts for the last such conversation before it. "
        "Attribution, not causation.",
        "zh": "對話開始後、對話最後一則事件起算歸因天數內，同一位顧客下了訂單的對話 ÷ 有效對話。"
        "一筆訂單只歸給它之前最後一段這樣的對話。這是歸因，不代表因果。",
    },
    "conversion_baseline": {
        "en": "Of the customers known from earlier orders, the share who ordered during the "
        "period: those who conversed in it, and those who did not (the baseline). A "
        "comparison, not a measure of what conversations caused.",
        "zh": "在先前已有訂單的顧客中，本期間內再下單的比例：本期間有對話的顧客，"
        "與沒有對話的顧客（基準）。這是比較，不代表對話造成了訂單。",
    },
    "attributed_revenue": {
        "en": "Total, per currency, of the orders attributed to the period's conversations "
        "(cancelled, refunded and failed orders left out).",
        "zh": "歸因到本期間對話的訂單金額合計（依幣別；不含已取消、已退款、付款失敗的訂單）。",
    },
}


@dataclass
class Trail:
    """What attribution needs of one conversation."""

    id: str
    channel: str = ""
    customer_id: str | None = None
    started_at: datetime | None = None
    last_at: datetime | None = None
    engaged: bool = False  # the customer wrote at least once
    person: bool = False  # a person helped (handed off, or an agent replied)
    trigger: str | None = None  # the first handoff's trigger or reason
    topic: str | None = None  # the topic of the first bot turn that has one
    verified: set[str] = field(default_factory=set)  # order numbers proved the customer's


def trails(log: Iterable[tuple[int, Event]]) -> dict[str, Trail]:
    found: dict[str, Trail] = {}
    for _, event in log:
        trail = found.setdefault(event.conversation_id, Trail(event.conversation_id))
        trail.last_at = event.at if trail.last_at is None else max(trail.last_at, event.at)
        if isinstance(event, ConversationStarted):
            trail.channel, trail.customer_id = event.channel, event.customer_id
            trail.started_at = event.at
        elif isinstance(event, CustomerMessaged):
            trail.engaged = True
        elif isinstance(event, OrderLookup) and event.stage == "verified" and event.order_number:
            trail.verified.add(event.order_number)
        elif isinstance(event, TurnHandedOff | StatusChanged | AgentReplied):
            handed = isinstance(event, TurnHandedOff | AgentReplied) or (
                isinstance(event, StatusChanged) and event.to_status in PERSON_STATUSES
            )
            if handed and not trail.person:
                trail.person = True
                trail.trigger = (
                    event.trigger
                    if isinstance(event, TurnHandedOff)
                    else event.reason
                    if isinstance(event, StatusChanged)
                    else "agent_replied"
                )
        if isinstance(event, BotTurn) and trail.topic is None and event.topic:
            trail.topic = event.topic
    return found


def identities(order: Order) -> set[str]:
    return {key for key in (order.email, order.phone, order.platform_customer_id) if key}


def customer_keys(customer_id: str | None) -> set[str]:
    if not customer_id:
        return set()
    keys = {customer_id}
    for normal in (normalise_email(customer_id), normalise_phone(customer_id)):
        if normal:
            keys.add(normal)
    return keys


@dataclass
class Group:
    engaged: int = 0
    converted: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engaged_conversations": self.engaged,
            "converted_conversations": self.converted,
            "conversion_rate": _rate(self.converted, self.engaged),
            "attributed_revenue": _money(self.revenue),
        }


@dataclass
class Attribution:
    window_days: int
    overall: Group
    by_channel: dict[str, Group]
    by_resolution: dict[str, Group]  # "bot" (alone) or "person" (a person helped)
    by_topic: dict[str, Group]
    attributed: list[dict[str, Any]]  # the orders behind the numbers, with their conversation

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversion_rate": _rate(self.overall.converted, self.overall.engaged),
            "attributed_revenue": _money(self.overall.revenue),
            "conversion": {
                "attribution_days": self.window_days,
                "engaged_conversations": self.overall.engaged,
                "converted_conversations": self.overall.converted,
                "attributed_orders": len(self.attributed),
                "by_channel": {k: g.as_dict() for k, g in sorted(self.by_channel.items())},
                "by_resolution": {k: g.as_dict() for k, g in sorted(self.by_resolution.items())},
                "by_topic": {k: g.as_dict() for k, g in sorted(self.by_topic.items())},
                "orders": self.attributed,
                "note": "Attribution, not causation: a customer who converses may have "
                "ordered anyway.",
            },
        }


def attribute(
    log: Iterable[tuple[int, Event]],
    orders: Iterable[Order],
    *,
    window: timedelta,
    start: datetime | None = None,
    end: datetime | None = None,
    channel: str | None = None,
    verified_order: Callable[[str], list[Order]] | None = None,
) -> Attribution:
    """Conversion of the conversations started in [start, end) (of `channel`, if given).
    `verified_order` finds the orders behind a number a customer verified in a conversation
    (their contact details identify the customer)."""
    everything = trails(log)
    keys: dict[str, set[str]] = {}
    for trail in everything.values():
        found = customer_keys(trail.customer_id)
        for number in trail.verified:
            for order in verified_order(number) if verified_order else []:
                found |= identities(order)
        keys[trail.id] = found
    by_key: dict[str, list[Trail]] = defaultdict(list)
    for trail in everything.values():
        if trail.started_at is not None:
            for key in keys[trail.id]:
                by_key[key].append(trail)

    def counted(trail: Trail) -> bool:
        return (
            trail.engaged
            and trail.started_at is not None
            and (start is None or trail.started_at >= start)
            and (end is None or trail.started_at < end)
            and (channel is None or trail.channel == channel)
        )

    won: dict[str, list[Order]] = defaultdict(list)
    for order in orders:
        if order.status in NOT_SALES:
            continue
        candidates = {
            t.id: t
            for key in identities(order)
            for t in by_key.get(key, ())
            if t.engaged
            and t.started_at is not None
            and t.started_at <= order.created_at
            and t.last_at is not None
            and order.created_at <= t.last_at + window
        }
        if not candidates:
            continue
        last = max(candidates.values(), key=lambda t: (t.started_at, t.id))
        if counted(last):
            won[last.id].append(order)

    overall = Group()
    by_channel: defaultdict[str, Group] = defaultdict(Group)
    by_resolution: defaultdict[str, Group] = defaultdict(Group)
    by_topic: defaultdict[str, Group] = defaultdict(Group)
    attributed: list[dict[str, Any]] = []
    for trail in everything.values():
        if not counted(trail):
            continue
        groups = (
            overall,
            by_channel[trail.channel],
            by_resolution["person" if trail.person else "bot"],
            by_topic[trail.topic or "(none)"],
        )
        for group in groups:
            group.engaged += 1
        bought = won.get(trail.id, [])
        if not bought:
            continue
        for group in groups:
            group.converted += 1
        for order in bought:
            if order.total is not None:
                currency = order.currency or ""
                for group in groups:
                    group.revenue[currency] = group.revenue.get(currency, Decimal(0)) + order.total
            attributed.append(
                {
                    "conversation_id": trail.id,
                    "channel": trail.channel,
                    "resolution": "person" if trail.person else "bot",
                    "topic": trail.topic or "(none)",
                    "trigger": trail.trigger,
                    "order_id": f"{order.source}:{order.number}",
                    "placed_at": order.created_at.isoformat(),
                    "total": None if order.total is None else str(order.total),
                    "currency": order.currency,
                }
            )
    attributed.sort(key=lambda a: a["placed_at"])
    return Attribution(
        window.days, overall, dict(by_channel), dict(by_resolution), dict(by_topic), attributed
    )


def converted_behind(attributed: list[dict[str, Any]], metric: str) -> list[str]:
    """The conversations behind a conversion number: metric "converted", or
    "converted:channel:<name>", "converted:resolution:<bot|person>", "converted:topic:<t>"."""
    kind, _, value = metric.removeprefix("converted").removeprefix(":").partition(":")
    found: list[str] = []
    for row in attributed:
        if kind and row.get(kind) != value:
            continue
        if row["conversation_id"] not in found:
            found.append(row["conversation_id"])
    return found


def baseline(
    log: Iterable[tuple[int, Event]],
    orders: Iterable[Order],
    *,
    start: datetime | None,
    end: datetime | None,
    window: timedelta,
    verified_order: Callable[[str], list[Order]] | None = None,
) -> dict[str, Any]:
    """Conversing and not conversing known customers and how many of each ordered in the period
    (module docstring). `orders`: every order up to the period's end plus the window. With no
    period start there are no earlier orders to know customers by: the rates are None."""
    sales = [o for o in orders if o.status not in NOT_SALES]
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for order in sales:
        same = sorted(identities(order))
        for key in same[1:]:
            parent[root(key)] = root(same[0])
    known = {
        root(k) for o in sales if start is not None and o.created_at < start for k in identities(o)
    }
    until = end + window if end is not None else None
    ordered = {
        root(k)
        for o in sales
        if start is not None and o.created_at >= start and (until is None or o.created_at < until)
        for k in identities(o)
    }
    conversed: set[str] = set()
    for trail in trails(log).values():
        if not trail.engaged or trail.started_at is None:
            continue
        if (start is not None and trail.started_at < start) or (
            end is not None and trail.started_at >= end
        ):
            continue
        keys = customer_keys(trail.customer_id)
        for number in trail.verified:
            for order in verified_order(number) if verified_order else []:
                keys |= identities(order)
        conversed |= {root(k) for k in keys if k in parent}
    talked = known & conversed
    silent = known - conversed
    return {
        "known_customers": len(known) if start is not None else None,
        "conversed": {
            "customers": len(talked),
            "ordered": len(talked & ordered),
            "rate": _rate(len(talked & ordered), len(talked)),
        },
        "did_not_converse": {
            "customers": len(silent),
            "ordered": len(silent & ordered),
            "rate": _rate(len(silent & ordered), len(silent)),
        },
    }


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _money(totals: dict[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in sorted(totals.items())}
