"""Orders in: the Shopify and WooCommerce order webhooks (signed, no session), and the admin's
upload of an order export (CSV or XLSX)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from pydantic import Field as PydanticField

from bot.access.accounts import Accounts, Role
from bot.api.errors import ERROR_RESPONSES, ApiError, error
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
