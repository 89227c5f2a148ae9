"""Orders in: the Shopify and WooCommerce order webhooks (signed, no session), and the admin's
upload of an order export (CSV or XLSX)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from pydantic import Field as PydanticField

from bot.access.accounts import Accounts, Role
from bot.api.conversations import ConversationId
from bot.api.errors import ERROR_RESPONSES, ApiError, error
from bot.conversation.events import OrderLookup
from bot.conversation.store import ConversationStore
from bot.orders.attribution import NOT_SALES
from bot.orders.lookup import customer_orders
from bot.orders.sheet import SheetInvalid, import_orders
from bot.orders.store import OrderStore
from bot.orders.sync import SHOPIFY, WOOCOMMERCE, OrderSync, WebhookRefused

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
MAX_FILE_BYTES = 20 * 1024 * 1024


class WebhookResult(BaseModel):
    platform: str
    topic: str
    result: str = PydanticField(
        description="created, updated, unchanged (the same update again), stale (older than "
        "the stored order: ignored), ignored (not an order topic) or ping"
    )
    order: str | None = None


class ImportProblem(BaseModel):
    row: int
    problem: str


class ImportResult(BaseModel):
    file: str | None
    imported: int
    saved: dict[str, int]
    columns: dict[str, str]
    problems: list[ImportProblem]


WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Not an order of the platform's shape, or no topic"},
    401: {"model": ApiError, "description": "The signature is missing or does not match"},
    403: {"model": ApiError, "description": "No secret is set for this platform"},
    413: {"model": ApiError, "description": "Body too large"},
}


def webhooks_router(sync: OrderSync) -> APIRouter:
    api = APIRouter(prefix="/webhooks", tags=["orders"])

    async def receive(
        platform: str, request: Request, signature: str | None, topic: str | None
    ) -> Any:
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return error(413, "too_large", "the webhook body is too large")
        try:
            received = await run_in_threadpool(sync.receive, platform, body, signature, topic)
        except WebhookRefused as refused:
            return error(refused.status, refused.code, str(refused))
        return WebhookResult(
            platform=received.platform,
            topic=received.topic,
            result=received.result,
            order=received.number,
        )

    @api.post("/shopify", response_model=WebhookResult, responses=WEBHOOK_RESPONSES)
    async def shopify(
        request: Request,
        signature: Annotated[str | None, Header(alias="X-Shopify-Hmac-Sha256")] = None,
        topic: Annotated[str | None, Header(alias="X-Shopify-Topic")] = None,
    ) -> Any:
        """A Shopify order webhook (orders/create, orders/updated, orders/cancelled,
        orders/fulfilled, …), verified with KEFU_ORDERS__SHOPIFY_SECRET before it is read."""
        return await receive(SHOPIFY, request, signature, topic)

    @api.post("/woocommerce", response_model=WebhookResult, responses=WEBHOOK_RESPONSES)
    async def woocommerce(
        request: Request,
        signature: Annotated[str | None, Header(alias="X-WC-Webhook-Signature")] = None,
        topic: Annotated[str | None, Header(alias="X-WC-Webhook-Topic")] = None,
    ) -> Any:
        """A WooCommerce order webhook (order.created, order.updated, …), verified with
        KEFU_ORDERS__WOOCOMMERCE_SECRET before it is read."""
        return await receive(WOOCOMMERCE, request, signature, topic)

    return api


class OrderPublic(BaseModel):
    number: str
    source: str
    status: str
    raw_status: str
    payment_status: str | None
    email: str | None
    phone: str | None
    items: list[dict[str, Any]]
    total: str | None
    currency: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected_delivery: str | None
    created_at: datetime
    updated_at: datetime


class CustomerOrdersPublic(BaseModel):
    count: int
    last_order_at: datetime | None
    spent: dict[str, str] = PydanticField(
        description="Total per currency of the orders not cancelled, refunded or failed"
    )
    orders: list[OrderPublic]


def agent_router(
    store: OrderStore,
    conversations: ConversationStore,
    accounts: Accounts,
    verified_contacts: Callable[[str], set[str]] | None = None,
) -> APIRouter:
    from bot.api.auth import requires

    agent = Depends(requires(accounts, Role.AGENT))
    api = APIRouter(prefix="/api/agent", tags=["orders"], dependencies=[agent])

    @api.get(
        "/conversations/{conversation_id}/orders",
        response_model=CustomerOrdersPublic,
        responses=ERROR_RESPONSES,
    )
    def orders_of(conversation_id: ConversationId) -> CustomerOrdersPublic:
        """The customer's orders, for the agent: by the conversation's customer id, the
        orders the customer verified in it, and the e-mails and phones verified on any of their
        linked channels; their count, last order and total spent."""
        conversation = conversations.get(conversation_id)
        verified = [
            r.event.order_number
            for r in conversations.events(conversation_id)
            if isinstance(r.event, OrderLookup)
            and r.event.stage == "verified"
            and r.event.order_number
        ]
        mine = verified_contacts(conversation_id) if verified_contacts is not None else set()
        found = customer_orders(store, conversation.customer_id, verified, mine)
        spent: dict[str, Decimal] = {}
        for order in found:
            if order.total is not None and order.status not in NOT_SALES:
                key = order.currency or ""
                spent[key] = spent.get(key, Decimal(0)) + order.total
        return CustomerOrdersPublic(
            count=len(found),
            last_order_at=found[0].created_at if found else None,
            spent={k: str(v) for k, v in sorted(spent.items())},
            orders=[
                OrderPublic(
                    **{
                        **{k: v for k, v in asdict(o).items() if k in OrderPublic.model_fields},
                        "total": None if o.total is None else str(o.total),
                    }
                )
                for o in found
            ],
        )

    return api


def admin_router(store: OrderStore, accounts: Accounts) -> APIRouter:
    from bot.api.auth import requires

    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(prefix="/api/admin/orders", tags=["orders"], dependencies=[admin])

    @api.post("/import", response_model=ImportResult, responses=ERROR_RESPONSES)
    def upload(file: Annotated[UploadFile, File()]) -> Any:
        """Import an order export (CSV or XLSX; zh-TW or English headers): the good rows are
        saved, the bad ones reported by row number."""
        content = file.file.read(MAX_FILE_BYTES + 1)
        if len(content) > MAX_FILE_BYTES:
            return error(413, "too_large", "the order file is larger than 20 MB")
        try:
            report = import_orders(store, file.filename or "", content)
        except SheetInvalid as exc:
            return error(400, "invalid_order_file", str(exc))
        return {"file": file.filename, **report.as_dict()}

    return api
