"""Where the bot finds an order by its number: the synced orders first, then the shop's ERP
when one is configured."""

from __future__ import annotations

from collections.abc import Iterable

from bot.orders.erp import ErpLookup
from bot.orders.model import Order, normalise_number
from bot.orders.store import OrderStore
from bot.settings import OrdersSettings


class OrderBook:
    def __init__(self, store: OrderStore, erp: ErpLookup | None = None) -> None:
        self.store = store
        self.erp = erp

    def enabled(self) -> bool:
        """Whether the shop has orders the bot could answer about."""
        return self.erp is not None or self.store.any()

    def find(self, number: str) -> list[Order]:
        """The orders with this number; raises LookupUnavailable when the ERP cannot tell."""
        number = normalise_number(number)
        found = self.store.find(number)
        if found or self.erp is None:
            return found
        order = self.erp.find(number)
        return [order] if order is not None else []


def customer_orders(
    store: OrderStore,
    customer_id: str | None,
    verified: Iterable[str],
    contacts: Iterable[str] = (),
) -> list[Order]:
    """The orders of a conversation's customer, newest first: those of its customer id (an
    email, a phone number or the platform's customer id), of the contact details on the
    orders the customer verified in it, and of `contacts` (their verified e-mails and phones
    on every linked channel)."""
    contacts = set(contacts) | ({customer_id} if customer_id else set())
    for number in verified:
        for order in store.find(number):
            contacts |= {c for c in (order.email, order.phone, order.platform_customer_id) if c}
    found: dict[tuple[str, str], Order] = {}
    for contact in contacts:
        for order in store.of_customer(contact):
            found[(order.source, order.number)] = order
    return sorted(found.values(), key=lambda o: o.created_at, reverse=True)


def erp_lookup(settings: OrdersSettings) -> ErpLookup | None:
    if not settings.erp_url:
        return None
    return ErpLookup(
        url=settings.erp_url,
        fields=settings.erp_fields,
        headers=settings.erp_headers,
        timeout_s=settings.erp_timeout_s,
        statuses=settings.erp_statuses,
    )
