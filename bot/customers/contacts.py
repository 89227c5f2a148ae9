"""A customer's e-mail addresses and phone numbers, each verified or only self-reported.

A contact point is verified only when it came from a verified source:

- `signed_customer_id`: the conversation's customer id, which the shop's own site signed
  (an unsigned id is a hint and is not used), is an e-mail address or a phone number;
- `order_match`: the customer proved in a conversation that an order is theirs (they sent the
  phone number or e-mail on it, bot/orders/questions.py), so that order's e-mail and phone are
  theirs.

What an admin corrected on the customer's request (bot/customers/corrections.py) is
`self_reported`: kept and shown, never verified. A LINE or Messenger identity proves who writes,
not an e-mail or a phone, so it adds none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.conversation.events import ConversationStarted, OrderLookup, Recorded
from bot.conversation.store import Conversation, ConversationStore
from bot.customers.identities import CustomerIdentities, conversations_of, identity_of
from bot.orders.model import Order, normalise_email, normalise_phone

ContactKind = Literal["email", "phone"]
SIGNED = "signed_customer_id"
ORDER_MATCH = "order_match"
SELF_REPORTED = "self_reported"


@dataclass(frozen=True)
class ContactPoint:
    kind: str  # email, phone
    value: str  # normalised: lower-case e-mail, +886… phone
    verified: bool
    source: str  # signed_customer_id, order_match, self_reported

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "verified": self.verified,
            "source": self.source,
        }


def _points(value: str | None, source: str, verified: bool) -> list[ContactPoint]:
    found = []
    email = normalise_email(value)
    if email:
        found.append(ContactPoint("email", email, verified, source))
    elif value and "@" not in value:
        phone = normalise_phone(value) if any(ch.isdigit() for ch in value) else None
        if phone and len(phone) >= 11:  # a whole number, not an id that happens to be digits
            found.append(ContactPoint("phone", phone, verified, source))
    return found


def contact_points(
    conversations: Sequence[Conversation],
    events: Callable[[str], list[Recorded]],
    orders: Callable[[str], list[Order]] | None = None,
    self_reported: Iterable[str | None] = (),
) -> list[ContactPoint]:
    """The customer's contact points, verified ones first; one entry per value (a value both
    verified and self-reported is verified)."""
    found: list[ContactPoint] = []
    for conversation in conversations:
        for recorded in events(conversation.id):
            event = recorded.event
            if isinstance(event, ConversationStarted) and event.customer_id:
                if conversation.channel == "web":
                    found += _points(event.customer_id, SIGNED, True)
            elif (
                isinstance(event, OrderLookup)
                and event.stage == "verified"
                and event.order_number
                and orders is not None
            ):
                for order in orders(event.order_number):
                    for value in (order.email, order.phone):
                        found += _points(value, ORDER_MATCH, True)
    for value in self_reported:
        found += _points(value, SELF_REPORTED, False)
    unique: dict[tuple[str, str], ContactPoint] = {}
    for point in found:
        key = (point.kind, point.value)
        if key not in unique or (point.verified and not unique[key].verified):
            unique[key] = point
    return sorted(unique.values(), key=lambda p: (not p.verified, p.kind, p.value))


def verified_contacts(
    store: ConversationStore,
    identities: CustomerIdentities,
    orders: Callable[[str], list[Order]],
) -> Callable[[str], set[str]]:
    """For the order question (bot/orders/questions.py): the verified e-mails and phones of a
    conversation's customer, over every identity linked with it."""

    def of(conversation_id: str) -> set[str]:
        customer = identities.customer(identity_of(store.get(conversation_id)))
        found = conversations_of(store, customer.identities)
        return {p.value for p in contact_points(found, store.events, orders) if p.verified}

    return of
