"""Orders from the shop's platform: webhook signatures, and Shopify's and WooCommerce's order
payloads mapped onto `Order`. Pure functions; the web layer hands in the raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.orders.model import Order, OrderInvalid, money
from bot.orders.store import OrderStore

SHOPIFY = "shopify"
WOOCOMMERCE = "woocommerce"

# The Shopify topics that carry a whole order (orders/delete carries only its id).
SHOPIFY_ORDER_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/paid",
        "orders/edited",
    }
)
WOOCOMMERCE_ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})

_WOO_STATUS = {
    "pending": "pending",
    "processing": "processing",
    "on-hold": "on_hold",
    "completed": "shipped",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "failed",
    "checkout-draft": "pending",
}
_SHOPIFY_PAYMENT = {
    "pending": "pending",
    "authorized": "pending",
    "paid": "paid",
    "partially_paid": "partially_paid",
    "refunded": "refunded",
    "partially_refunded": "partially_refunded",
    "voided": "voided",
}


class PayloadInvalid(ValueError):
    """A webhook body that is not an order of the platform's shape; the message says why."""


def signed(body: bytes, secret: str, signature: str | None) -> bool:
    """Whether `signature` is the base64 HMAC-SHA256 of the raw `body` with `secret` (the
    scheme of both Shopify's X-Shopify-Hmac-Sha256 and WooCommerce's X-WC-Webhook-Signature),
    compared in constant time."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadInvalid(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadInvalid("the body is not a JSON object")
    return data


def from_shopify(data: dict[str, Any]) -> Order:
    """A Shopify order (the REST Order resource, as its order webhooks send it)."""
    try:
        number = data.get("name") or data.get("order_number")
        if number is None:
            raise PayloadInvalid("the order has no name or order_number")
        customer = _dict(data.get("customer"))
        fulfillments = [f for f in _list(data.get("fulfillments")) if isinstance(f, dict)]
        # the latest shipment that is not cancelled carries the tracking the customer needs
        shipped = [f for f in fulfillments if f.get("status") not in ("cancelled", "error")]
        latest = shipped[-1] if shipped else {}
        tracking_numbers = _list(latest.get("tracking_numbers"))
        tracking_urls = _list(latest.get("tracking_urls"))
        financial = str(data.get("financial_status") or "")
        return Order(
            number=str(number),
            source=SHOPIFY,
            source_id=_text(data.get("id")),
            created_at=_time(data.get("created_at"), "created_at"),
            updated_at=_time(data.get("updated_at") or data.get("created_at"), "updated_at"),
            status=_shopify_status(data, shipped),
            raw_status=str(data.get("fulfillment_status") or financial or ""),
            payment_status=_SHOPIFY_PAYMENT.get(financial),
            email=_text(data.get("email") or data.get("contact_email") or customer.get("email")),
            phone=_text(
                data.get("phone")
                or customer.get("phone")
                or _dict(data.get("shipping_address")).get("phone")
                or _dict(data.get("billing_address")).get("phone")
            ),
            platform_customer_id=_text(customer.get("id")),
            items=[
                {
                    "name": str(i.get("name") or i.get("title") or ""),
                    "quantity": i.get("quantity"),
                    "price": _text(i.get("price")),
                    "sku": _text(i.get("sku")),
                }
                for i in _list(data.get("line_items"))
                if isinstance(i, dict)
            ],
            total=money(data.get("total_price")),
            currency=_text(data.get("currency")),
            carrier=_text(latest.get("tracking_company")),
            tracking_number=_text(
                latest.get("tracking_number") or (tracking_numbers[0] if tracking_numbers else None)
            ),
            tracking_url=_text(
                latest.get("tracking_url") or (tracking_urls[0] if tracking_urls else None)
            ),
            expected_delivery=_text(latest.get("estimated_delivery_at")),
        )
    except OrderInvalid as exc:
        raise PayloadInvalid(str(exc)) from None


def _shopify_status(data: dict[str, Any], shipped: list[dict[str, Any]]) -> str:
    if data.get("cancelled_at"):
        return "cancelled"
    financial = data.get("financial_status")
    if financial in ("refunded", "voided"):
        return "refunded" if financial == "refunded" else "cancelled"
    if any(f.get("shipment_status") == "delivered" for f in shipped):
        return "delivered"
    if data.get("fulfillment_status") in ("fulfilled", "partial") or shipped:
        return "shipped"
    return "processing" if financial in ("paid", "partially_refunded") else "pending"


def from_woocommerce(data: dict[str, Any]) -> Order:
    """A WooCommerce order (the REST API v3 order, as its order webhooks send it). Tracking is
    read from the Shipment Tracking extension's `_wc_shipment_tracking_items` meta data."""
    try:
        if data.get("id") is None and not data.get("number"):
            raise PayloadInvalid("the order has no id or number")
        raw = str(data.get("status") or "")
        if raw not in _WOO_STATUS:
            raise PayloadInvalid(f"unknown WooCommerce order status {raw!r}")
        billing = _dict(data.get("billing"))
        shipping = _dict(data.get("shipping"))
        tracking = _woo_tracking(data)
        customer = data.get("customer_id")
        payment = (
            "refunded"
            if raw == "refunded"
            else "paid"
            if data.get("date_paid_gmt") or data.get("date_paid")
            else "pending"
        )
        created = data.get("date_created_gmt") or data.get("date_created")
        modified = data.get("date_modified_gmt") or data.get("date_modified") or created
        return Order(
            number=str(data.get("number") or data.get("id")),
            source=WOOCOMMERCE,
            source_id=_text(data.get("id")),
            created_at=_time(created, "date_created_gmt"),
            updated_at=_time(modified, "date_modified_gmt"),
            status=_WOO_STATUS[raw],
            raw_status=raw,
            payment_status=payment,
            email=_text(billing.get("email")),
            phone=_text(billing.get("phone") or shipping.get("phone")),
            platform_customer_id=_text(customer) if customer not in (None, 0, "0") else None,
            items=[
                {
                    "name": str(i.get("name") or ""),
                    "quantity": i.get("quantity"),
                    "price": _text(i.get("total")),
                    "sku": _text(i.get("sku")),
                }
                for i in _list(data.get("line_items"))
                if isinstance(i, dict)
            ],
            total=money(data.get("total")),
            currency=_text(data.get("currency")),
            carrier=_text(
                tracking.get("custom_tracking_provider") or tracking.get("tracking_provider")
            ),
            tracking_number=_text(tracking.get("tracking_number")),
            tracking_url=_text(
                tracking.get("custom_tracking_link") or tracking.get("tracking_link")
            ),
            expected_delivery=None,
        )
    except OrderInvalid as exc:
        raise PayloadInvalid(str(exc)) from None


def _woo_tracking(data: dict[str, Any]) -> dict[str, Any]:
    for meta in _list(data.get("meta_data")):
        if isinstance(meta, dict) and meta.get("key") == "_wc_shipment_tracking_items":
            items = [t for t in _list(meta.get("value")) if isinstance(t, dict)]
            if items:
                return items[-1]
    return {}


def _time(value: Any, name: str) -> datetime:
    """An ISO 8601 time; one without a zone is UTC (WooCommerce's *_gmt fields)."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadInvalid(f"{name} is missing")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadInvalid(f"{name} {value!r} is not an ISO 8601 time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class WebhookRefused(Exception):
    """A webhook kefu will not take: `status` 401 (signature), 403 (no secret set), 400 (body)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Received:
    platform: str
    topic: str
    result: str  # created, updated, unchanged, stale, ignored, ping
    number: str | None = None


class OrderSync:
    """Order webhooks: the signature checked on the raw body first, then the body read and the
    order saved by the store's newer-wins rule."""

    def __init__(
        self, store: OrderStore, shopify_secret: str | None, woocommerce_secret: str | None
    ) -> None:
        self.store = store
        self._secrets = {SHOPIFY: shopify_secret, WOOCOMMERCE: woocommerce_secret}

    def receive(
        self, platform: str, body: bytes, signature: str | None, topic: str | None
    ) -> Received:
        secret = self._secrets[platform]
        if not secret:
            raise WebhookRefused(
                403, "webhook_not_configured", f"no {platform} webhook secret is set"
            )
        if not signed(body, secret, signature):
            raise WebhookRefused(401, "bad_signature", "the webhook's signature does not match")
        topic = (topic or "").strip()
        if not topic:
            raise WebhookRefused(400, "missing_topic", "the webhook names no topic")
        if platform == WOOCOMMERCE and body.startswith(b"webhook_id="):
            return Received(platform, topic, "ping")  # sent once when the webhook is saved
        topics = SHOPIFY_ORDER_TOPICS if platform == SHOPIFY else WOOCOMMERCE_ORDER_TOPICS
        if topic not in topics:
            return Received(platform, topic, "ignored")
        try:
            data = json_object(body)
            order = from_shopify(data) if platform == SHOPIFY else from_woocommerce(data)
        except PayloadInvalid as exc:
            raise WebhookRefused(400, "invalid_order", str(exc)) from None
        saved = self.store.save(order)
        return Received(platform, topic, saved.value, order.number)
