"""Conversion compared with customers who did not converse, on a hand-built log and orders whose
answer is worked out here; the conversations behind each conversion number; and conversion in
the metrics exports, through the real app."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bot.app import create_app
from bot.orders.attribution import attribute, baseline, converted_behind
from bot.orders.model import Order
from bot.services import Services
from tests.bot.orders.conftest import order_services
from tests.bot.orders.test_attribution import WEEK, at, conversation, hand_built, order


def known_customers() -> tuple[list, list[Order]]:
    """Four customers known from November orders; two converse in December (one of whom then
    orders), two do not (one of whom orders anyway)."""
    events = [
        *conversation("d1", "web", "ann@example.tw", 2),
        *conversation("d2", "line", "0922000222", 3),
        *conversation("d3", "web", "eve@example.tw", 3, engaged=False),  # never wrote
    ]
    log = [(i, e) for i, e in enumerate(events, start=1)]
    earlier = [
        Order(
            "N1",
            "shopify",
            at(1, 0) - timedelta(days=20),
            at(1, 0) - timedelta(days=20),
            email="ann@example.tw",
            phone="0911000111",
        ),
        Order(
            "N2",
            "shopify",
            at(1, 0) - timedelta(days=15),
            at(1, 0) - timedelta(days=15),
            phone="0922-000-222",
        ),
        Order(
            "N3",
            "shopify",
            at(1, 0) - timedelta(days=10),
            at(1, 0) - timedelta(days=10),
            email="eve@example.tw",
        ),
        Order(
            "N4",
            "shopify",
            at(1, 0) - timedelta(days=5),
            at(1, 0) - timedelta(days=5),
            email="joe@example.tw",
        ),
    ]
    december = [
        order("D1", 4, "300", phone="+886911000111"),  # ann, known by her November phone
        order("D2", 5, "200", email="eve@example.tw"),  # eve, who never wrote
        order("D3", 6, "100", email="new@example.tw"),  # nobody known: not in either group
        order("D4", 6, "100", email="joe@example.tw", status="cancelled"),  # not a sale
    ]
    return log, earlier + december


def test_customers_who_conversed_against_those_who_did_not() -> None:
    log, orders = known_customers()
    found = baseline(log, orders, start=at(1, 0), end=at(10, 0), window=WEEK)
    assert found == {
        "known_customers": 4,
        "conversed": {"customers": 2, "ordered": 1, "rate": 0.5},
        "did_not_converse": {"customers": 2, "ordered": 1, "rate": 0.5},
    }
    # a period that ends before eve's order: only ann ordered
    early = baseline(log, orders, start=at(1, 0), end=at(3, 0), window=timedelta(days=1))
    assert early["did_not_converse"] == {"customers": 3, "ordered": 0, "rate": 0.0}
    assert early["conversed"] == {"customers": 1, "ordered": 0, "rate": 0.0}


def test_no_period_start_no_baseline() -> None:
    log, orders = known_customers()
    found = baseline(log, orders, start=None, end=None, window=WEEK)
    assert found["known_customers"] is None
    assert found["conversed"]["rate"] is None and found["did_not_converse"]["rate"] is None


def test_the_conversations_behind_each_conversion_number() -> None:
    log, orders, verified = hand_built()
    attributed = attribute(
        log, orders, window=WEEK, verified_order=lambda n: [o for o in verified if o.number == n]
    ).attributed
    assert converted_behind(attributed, "converted") == ["c1", "c2", "c4"]
    assert converted_behind(attributed, "converted:channel:line") == ["c2"]
    assert converted_behind(attributed, "converted:resolution:bot") == ["c1", "c4"]
    assert converted_behind(attributed, "converted:topic:shop_faq.xlsx#運送") == ["c1", "c2", "c4"]
    assert converted_behind(attributed, "converted:channel:messenger") == []


@pytest.fixture
def services(demo_data_dir: Path, sqlite_url: str) -> Iterator[Services]:
    built = order_services(demo_data_dir, sqlite_url)
    yield built
    built.close()


def test_the_drill_down_and_the_exports_hold_the_conversion(services: Services) -> None:
    service = services.conversations
    now = datetime.now(UTC)
    ids = {}
    for channel, customer in (("web", "amy@example.com"), ("line", "0912345678")):
        started = service.start(channel, customer)
        service.send(started.id, "退貨要怎麼申請？")
        ids[channel] = started.id
    services.orders.save(
        Order(
            "9001",
            "shopify",
            now + timedelta(hours=1),
            now + timedelta(hours=1),
            phone="+886912345678",
            total=Decimal("300"),
            currency="TWD",
        )
    )
    services.accounts.add("boss", "correct horse battery", "admin", "老闆")
    with TestClient(create_app(services)) as client:
        client.post(
            "/api/auth/login", json={"username": "boss", "password": "correct horse battery"}
        )
        behind = client.get("/api/admin/conversations", params={"metric": "converted"}).json()
        [row] = behind["conversations"]
        assert row["id"] == ids["line"] and row["channel"] == "line"
        assert [(o["order_id"], o["total"]) for o in row["orders"]] == [("shopify:9001", "300")]
        web = client.get(
            "/api/admin/conversations", params={"metric": "converted", "channel": "web"}
        ).json()
        assert web["conversations"] == []
        by_channel = client.get(
            "/api/admin/conversations", params={"metric": "converted:channel:line"}
        ).json()
        assert [c["id"] for c in by_channel["conversations"]] == [ids["line"]]

        rows = dict(
            csv.reader(io.StringIO(client.get("/api/admin/metrics.csv").text.lstrip("\ufeff")))
        )
        assert rows["conversion_rate"] == "0.5"
        assert rows["attributed_revenue.TWD"] == "300"
        assert rows["conversion.by_channel.line.converted_conversations"] == "1"
        assert "conversion.baseline.did_not_converse.customers" in rows
        assert not any(key.startswith("conversion.orders") for key in rows)
        line = client.get("/api/admin/metrics.xlsx", params={"channel": "line"})
        sheet = load_workbook(io.BytesIO(line.content))["metrics"]
        exported = {r[0]: r[1] for r in sheet.iter_rows(values_only=True)}
        assert exported["engaged_conversations"] == 1 and exported["conversion_rate"] == 1
        assert "profile_completeness" in exported
