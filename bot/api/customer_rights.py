"""Admins act on a customer's rights: a copy of everything held about them, and erasure.
Both are on the audit log (bot/api/audit.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from bot.access.accounts import Accounts, Role
from bot.api.auth import requires
from bot.api.errors import ERROR_RESPONSES
from bot.privacy.customers import CustomerData

CustomerId = Annotated[str, Path(min_length=1, max_length=255, description="The customer_id")]


def router(accounts: Accounts, customers: CustomerData) -> APIRouter:
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(
        prefix="/api/admin/customers",
        tags=["admin"],
        responses=ERROR_RESPONSES,
        dependencies=[admin],
    )

    @api.get("/{customer_id}/export")
    def export(customer_id: CustomerId) -> dict[str, Any]:
        """Everything kefu holds about the customer, on every channel, as JSON (404
        customer_not_found when it holds nothing)."""
        return customers.export(customer_id)

    @api.delete("/{customer_id}")
    def erase(customer_id: CustomerId) -> dict[str, Any]:
        """Erase the customer: their conversations lose texts and identity and answer 404 from
        now on; the metrics' counts stay as they were."""
        done = customers.erase(customer_id)
        return {
            "customer_id": done.customer_id,
            "erased_conversations": done.conversations,
            "anonymised_events": done.events,
            "at": done.at,
        }

    return api
