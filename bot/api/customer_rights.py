"""Admins act on a customer's rights: a copy of everything held about them (JSON, or a page
to read), corrections of their profile, a stop on marketing use, and erasure.
All are on the audit log (bot/api/audit.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.api.auth import requires
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import PlainText
from bot.privacy.copies import export_html
from bot.privacy.customers import CustomerData

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE = r"^\+?[0-9][0-9 ()-]{6,28}$"


class CustomerCorrection(BaseModel):
    """Only the fields sent change; a field sent as null clears its correction."""

    name: PlainText | None = Field(default=None, min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL)
    phone: str | None = Field(default=None, max_length=30, pattern=PHONE)
    marketing_opt_out: bool | None = Field(
        default=None, description="true: the customer stopped marketing use; false: allowed again"
    )


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

    @api.get(
        "/{customer_id}/export.html",
        response_class=Response,
        responses={
            200: {
                "description": "The copy as an HTML page, as an attachment",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
    )
    def export_page(customer_id: CustomerId) -> Response:
        """The same copy as one HTML page a person can read, headings in zh-TW and English
        (404 customer_not_found when kefu holds nothing)."""
        page = export_html(customers.export(customer_id))
        return HTMLResponse(
            page,
            headers={
                "content-disposition": 'attachment; filename="customer-export.html"',
                "content-security-policy": (
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
                ),
            },
        )

    @api.patch("/{customer_id}")
    def correct(
        customer_id: CustomerId, body: CustomerCorrection, user: User = admin
    ) -> dict[str, Any]:
        """Correct the customer's name, e-mail or phone, or set or clear their stop on
        marketing use (who and when are kept). 400 bad_request when nothing is sent."""
        changes = body.model_dump(include=body.model_fields_set)
        if changes.get("marketing_opt_out", False) is None:
            raise ValueError("marketing_opt_out is true or false")
        if not changes:
            raise ValueError("nothing to correct: send name, email, phone or marketing_opt_out")
        done = customers.correct(customer_id, changes, user.username)
        return {"customer_id": customer_id, **done.public()}

    @api.delete("/{customer_id}")
    def erase(customer_id: CustomerId) -> dict[str, Any]:
        """Erase the customer: their conversations lose texts and identity and answer 404 from
        now on; the metrics' counts stay as they were."""
        done = customers.erase(customer_id)
        return {
            "customer_id": done.customer_id,
            "erased_conversations": done.conversations,
            "anonymised_events": done.events,
            "deleted_pictures": done.files,
            "at": done.at,
        }

    return api
