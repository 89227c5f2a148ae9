"""Where the bot finds an order by its number: the synced orders first, then the shop's ERP
when one is configured."""

from __future__ import annotations

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
