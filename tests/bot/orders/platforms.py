"""Fakes of Shopify and WooCommerce as they call a shop's webhook: real HTTP requests with the
platform's headers, its order payload shape, and the body signed as the platform signs it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class FakeShopify:
    def __init__(self, url: str, secret: str, shop: str = "kefu-demo.myshopify.com") -> None:
        self.url = f"{url}/webhooks/shopify"
        self.secret = secret
        self.shop = shop

    def send(
        self, topic: str, order: dict[str, Any], *, secret: str | None = None, sign: bool = True
    ) -> httpx.Response:
        body = json.dumps(order, ensure_ascii=False).encode()
        return self.send_raw(topic, body, secret=secret, sign=sign)

    def send_raw(
        self, topic: str, body: bytes, *, secret: str | None = None, sign: bool = True
    ) -> httpx.Response:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": "2025-10",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        }
        if sign:
            headers["X-Shopify-Hmac-Sha256"] = signature(body, secret or self.secret)
        return httpx.post(self.url, content=body, headers=headers, timeout=10)


def shopify_order(
    number: int = 1001,
    *,
    updated_at: str = "2026-12-01T10:00:00+08:00",
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    fulfillments: list[dict[str, Any]] | None = None,
    cancelled_at: str | None = None,
    email: str = "mei@example.tw",
    phone: str = "+886912345678",
) -> dict[str, Any]:
    """An order as Shopify's order webhooks send it (REST Order resource, abridged)."""
    return {
        "id": 5_200_000_000 + number,
        "admin_graphql_api_id": f"gid://shopify/Order/{5_200_000_000 + number}",
        "name": f"#{number}",
        "order_number": number,
        "email": email,
        "contact_email": email,
        "phone": None,
        "created_at": "2026-12-01T09:30:00+08:00",
        "updated_at": updated_at,
        "processed_at": "2026-12-01T09:30:00+08:00",
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "closed_at": None,
        "currency": "TWD",
        "presentment_currency": "TWD",
        "total_price": "1280.00",
        "subtotal_price": "1200.00",
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "customer": {
            "id": 7_100_000_001,
            "email": email,
            "phone": phone,
            "first_name": "美玲",
            "last_name": "王",
        },
        "shipping_address": {"phone": "0912-345-678", "city": "台北市", "country_code": "TW"},
        "line_items": [
            {
                "id": 1,
                "title": "保溫瓶",
                "name": "保溫瓶 - 500ml",
                "quantity": 2,
                "price": "600.00",
                "sku": "BOTTLE-500",
            }
        ],
        "fulfillments": fulfillments or [],
    }


def shopify_fulfillment(
    number: str = "900123456789", company: str = "黑貓宅急便", status: str = "success"
) -> dict[str, Any]:
    return {
        "id": 4_400_000_001,
        "status": status,
        "shipment_status": "in_transit",
        "tracking_company": company,
        "tracking_number": number,
        "tracking_numbers": [number],
        "tracking_url": f"https://www.t-cat.com.tw/inquire/trace.aspx?no={number}",
        "tracking_urls": [f"https://www.t-cat.com.tw/inquire/trace.aspx?no={number}"],
        "created_at": "2026-12-02T11:00:00+08:00",
    }


class FakeWooCommerce:
    def __init__(self, url: str, secret: str) -> None:
        self.url = f"{url}/webhooks/woocommerce"
        self.secret = secret

    def send(self, topic: str, order: dict[str, Any], *, sign: bool = True) -> httpx.Response:
        body = json.dumps(order, ensure_ascii=False).encode()
        return self.send_raw(topic, body, sign=sign)

    def send_raw(self, topic: str, body: bytes, *, sign: bool = True) -> httpx.Response:
        resource, event = topic.split(".")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
            "X-WC-Webhook-Source": "https://shop.example.tw/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-ID": "3",
            "X-WC-Webhook-Delivery-ID": "36e520ebabc2fa725092ff4a47acedf2",
        }
        if sign:
            headers["X-WC-Webhook-Signature"] = signature(body, self.secret)
        return httpx.post(self.url, content=body, headers=headers, timeout=10)


def woo_order(
    number: int = 2001,
    *,
    status: str = "processing",
    modified: str = "2026-12-01T02:00:00",
    tracking: dict[str, Any] | None = None,
    phone: str = "0912-345-678",
) -> dict[str, Any]:
    """An order as WooCommerce's order webhooks send it (REST API v3 order, abridged)."""
    meta = []
    if tracking is not None:
        meta.append({"id": 77, "key": "_wc_shipment_tracking_items", "value": [tracking]})
    return {
        "id": number,
        "parent_id": 0,
        "number": str(number),
        "order_key": "wc_order_Q6tuhq12KJOel",
        "created_via": "checkout",
        "status": status,
        "currency": "TWD",
        "date_created": "2026-12-01T09:00:00",
        "date_created_gmt": "2026-12-01T01:00:00",
        "date_modified": modified,
        "date_modified_gmt": modified,
        "total": "990.00",
        "customer_id": 12,
        "billing": {
            "first_name": "志明",
            "last_name": "陳",
            "email": "Chiming@Example.tw",
            "phone": phone,
        },
        "shipping": {"first_name": "志明", "last_name": "陳", "phone": ""},
        "payment_method": "ecpay",
        "date_paid": "2026-12-01T09:01:00",
        "date_paid_gmt": "2026-12-01T01:01:00",
        "line_items": [
            {
                "id": 9,
                "name": "帆布袋",
                "product_id": 23,
                "quantity": 1,
                "total": "990.00",
                "sku": "BAG-1",
            }
        ],
        "meta_data": meta,
    }
