"""Shopify and WooCommerce order webhooks into the real app over HTTP, on SQLite and PostgreSQL:
signatures checked before anything is read, duplicates and late updates change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.services import Services
from bot.settings import OrdersSettings
from tests.bot.orders.conftest import SHOPIFY_SECRET, WOO_SECRET, order_services, served
from tests.bot.orders.platforms import (
    FakeShopify,
    FakeWooCommerce,
    shopify_fulfillment,
    shopify_order,
    woo_order,
)


@pytest.fixture
def shopify(kefu_url: str) -> FakeShopify:
    return FakeShopify(kefu_url, SHOPIFY_SECRET)


@pytest.fixture
def woo(kefu_url: str) -> FakeWooCommerce:
    return FakeWooCommerce(kefu_url, WOO_SECRET)


def test_a_shopify_order_is_created_then_fulfilled_with_its_tracking(
    shopify: FakeShopify, services: Services
) -> None:
    created = shopify.send("orders/create", shopify_order(1001))
    assert created.status_code == 200, created.text
    assert created.json() == {
        "platform": "shopify",
        "topic": "orders/create",
        "result": "created",
        "order": "1001",
    }
    [order] = services.orders.find("#1001")
    assert (order.status, order.payment_status) == ("processing", "paid")
    assert order.email == "mei@example.tw"
    assert order.phone == "+886912345678" and order.platform_customer_id == "7100000001"
    assert str(order.total) == "1280.00" and order.currency == "TWD"
    assert order.items == [
        {"name": "保溫瓶 - 500ml", "quantity": 2, "price": "600.00", "sku": "BOTTLE-500"}
    ]

    fulfilled = shopify_order(
        1001,
        updated_at="2026-12-02T11:05:00+08:00",
        fulfillment_status="fulfilled",
        fulfillments=[shopify_fulfillment()],
    )
    assert shopify.send("orders/fulfilled", fulfilled).json()["result"] == "updated"
    [order] = services.orders.find("1001")
    assert order.status == "shipped" and order.raw_status == "fulfilled"
    assert (order.carrier, order.tracking_number) == ("黑貓宅急便", "900123456789")
    assert order.tracking_url == "https://www.t-cat.com.tw/inquire/trace.aspx?no=900123456789"


def test_the_same_update_twice_changes_nothing_and_an_older_one_never_wins(
    shopify: FakeShopify, services: Services
) -> None:
    newer = shopify_order(
        1002, updated_at="2026-12-02T12:00:00+08:00", cancelled_at="2026-12-02T12:00:00+08:00"
    )
    older = shopify_order(1002, updated_at="2026-12-01T10:00:00+08:00")
    assert shopify.send("orders/cancelled", newer).json()["result"] == "created"
    assert shopify.send("orders/cancelled", newer).json()["result"] == "unchanged"
    # the create, delivered late, after the cancellation
    assert shopify.send("orders/create", older).json()["result"] == "stale"
    [order] = services.orders.find("1002")
    assert order.status == "cancelled"
    assert services.orders.count() == 1


@pytest.mark.parametrize(
    "how", ["missing", "wrong secret", "body changed after signing", "not base64"]
)
def test_a_bad_signature_gets_401_and_writes_nothing(
    shopify: FakeShopify, services: Services, how: str
) -> None:
    body = json.dumps(shopify_order(1003)).encode()
    if how == "missing":
        response = shopify.send_raw("orders/create", body, sign=False)
    elif how == "wrong secret":
        response = shopify.send_raw("orders/create", body, secret="not the secret")
    elif how == "body changed after signing":
        import httpx

        from tests.bot.orders.platforms import signature

        response = httpx.post(
            shopify.url,
            content=body.replace(b"1280.00", b"1.00"),
            headers={
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": signature(body, SHOPIFY_SECRET),
            },
        )
    else:
        import httpx

        response = httpx.post(
            shopify.url,
            content=body,
            headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": "%%%"},
        )
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert services.orders.count() == 0


def test_a_signed_but_malformed_body_gets_a_clear_400(
    shopify: FakeShopify, woo: FakeWooCommerce, services: Services
) -> None:
    broken = shopify.send_raw("orders/create", b'{"id": 1, "name": "#1')
    assert broken.status_code == 400
    assert broken.json()["code"] == "invalid_order" and "not JSON" in broken.json()["message"]
    no_dates = shopify_order(1004)
    del no_dates["created_at"]
    missing = shopify.send("orders/create", no_dates)
    assert missing.status_code == 400 and "created_at" in missing.json()["message"]
    odd = woo.send("order.updated", woo_order(status="teleported"))
    assert odd.status_code == 400 and "teleported" in odd.json()["message"]
    no_topic = shopify.send_raw("", json.dumps(shopify_order(1005)).encode())
    assert no_topic.status_code == 400 and no_topic.json()["code"] == "missing_topic"
    assert services.orders.count() == 0


def test_other_topics_are_taken_and_ignored(shopify: FakeShopify, services: Services) -> None:
    response = shopify.send("products/update", {"id": 1, "title": "保溫瓶"})
    assert response.status_code == 200 and response.json()["result"] == "ignored"
    assert services.orders.count() == 0


def test_a_woocommerce_order_with_shipment_tracking(
    woo: FakeWooCommerce, services: Services
) -> None:
    ping = woo.send_raw("action.woocommerce_webhook_ping", b"webhook_id=3")
    assert ping.status_code == 200 and ping.json()["result"] == "ping"
    assert woo.send("order.created", woo_order(2001)).json()["result"] == "created"
    [order] = services.orders.find("2001")
    assert (order.status, order.payment_status) == ("processing", "paid")
    assert (order.email, order.phone) == ("chiming@example.tw", "+886912345678")
    assert order.created_at.isoformat() == "2026-12-01T01:00:00+00:00"

    shipped = woo_order(
        2001,
        status="completed",
        modified="2026-12-02T03:00:00",
        tracking={
            "tracking_provider": "",
            "custom_tracking_provider": "新竹物流",
            "tracking_number": "HCT-5566",
            "custom_tracking_link": "https://www.hct.com.tw/search?no=HCT-5566",
            "date_shipped": "1733108400",
            "tracking_id": "abc",
        },
    )
    assert woo.send("order.updated", shipped).json()["result"] == "updated"
    assert woo.send("order.updated", woo_order(2001)).json()["result"] == "stale"
    [order] = services.orders.find("2001")
    assert (order.status, order.carrier) == ("shipped", "新竹物流")
    assert order.tracking_number == "HCT-5566"
    assert order.tracking_url == "https://www.hct.com.tw/search?no=HCT-5566"


def test_a_woocommerce_webhook_signed_with_another_secret_is_refused(
    kefu_url: str, services: Services
) -> None:
    response = FakeWooCommerce(kefu_url, "guessed").send("order.created", woo_order())
    assert response.status_code == 401 and services.orders.count() == 0


@pytest.fixture
def unconfigured(demo_data_dir: Path, sqlite_url: str) -> Iterator[tuple[str, Services]]:
    built = order_services(demo_data_dir, sqlite_url, OrdersSettings())
    with served(create_app(built)) as url:
        yield url, built
    built.close()


def test_a_webhook_with_no_secret_set_is_refused(unconfigured: tuple[str, Services]) -> None:
    url, built = unconfigured
    for response in (
        FakeShopify(url, "").send("orders/create", shopify_order()),
        FakeWooCommerce(url, "").send("order.created", woo_order()),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "webhook_not_configured"
    assert built.orders.count() == 0
