"""Conversion after a conversation on a hand-built log whose answer is known, then the same
numbers through GET /api/metrics over the real app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.conversation.events import (
    AgentReplied,
    ConversationStarted,
    CustomerMessaged,
    Event,
    OrderLookup,
    StatusChanged,
    TurnAnswered,
)
from bot.conversation.status import ConversationStatus
from bot.orders.attribution import attribute
from bot.orders.model import Order
from bot.services import Services
from tests.bot.orders.conftest import order_services

WEEK = timedelta(days=7)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def conversation(
    cid: str, channel: str, customer: str | None, day: int, *, engaged: bool = True
) -> list[Event]:
    events: list[Event] = [
        ConversationStarted(conversation_id=cid, at=at(day), channel=channel, customer_id=customer)
    ]
    if engaged:
        events.append(
            CustomerMessaged(conversation_id=cid, at=at(day), text="運費多少", language="zh")
        )
        events.append(
            TurnAnswered(
                conversation_id=cid,
                at=at(day),
                question="運費多少",
                language="zh",
                reply="滿千免運",
                reason="clear_match",
                confidence=0.9,
                topic="shop_faq.xlsx#運送",
            )
        )
    return events


def order(number: str, day: int, total: str, *, email=None, phone=None, status="processing"):
    return Order(
        number,
        "shopify",
        at(day, 12),
        at(day, 12),
        status=status,
        email=email,
        phone=phone,
        total=Decimal(total),
        currency="TWD",
    )


def hand_built() -> tuple[list[tuple[int, Event]], list[Order], list[Order]]:
    c2 = conversation("c2", "line", "U4af4980629", 2)
    c2 += [
        OrderLookup(conversation_id="c2", at=at(2), stage="verified", order_number="1001"),
        StatusChanged(
            conversation_id="c2",
            at=at(2, 11),
            from_status=ConversationStatus.BOT,
            to_status=ConversationStatus.WAITING,
            reason="explicit_request",
        ),
        AgentReplied(
            conversation_id="c2", at=at(2, 12), text="好的", agent="mei", agent_name="美玲"
        ),
    ]
    events = [
        *conversation("c1", "web", "Mei@Example.tw", 1),
        *c2,
        *conversation("c3", "web", "0933-000-333", 3),
        *conversation("c4", "web", "mei@example.tw", 5),
        *conversation("c5", "web", "nobody@example.tw", 5, engaged=False),
    ]
    log = [(i, e) for i, e in enumerate(events, start=1)]
    verified = [order("1001", 1, "100", phone="0912000111")]  # placed before c2: not c2's
    orders = [
        order("O1", 1, "1000", email="mei@example.tw"),  # after c1 → c1
        order("O2", 6, "500", email="mei@example.tw"),  # after c1 and c4 → c4, the last
        order("O3", 4, "800", phone="+886912000111"),  # c2's customer, known by the verified order
        order("O4", 20, "900", email="mei@example.tw"),  # past c4's window
        Order("O5", "file", at(1), at(1), phone="0933000333", total=Decimal(50)),  # before c3
        order("O6", 2, "700", email="mei@example.tw", status="cancelled"),  # not a sale
        order("O7", 6, "300", email="nobody@example.tw"),  # c5 never engaged
    ]
    return log, orders + verified, verified


def test_a_hand_built_log_gives_the_known_answer() -> None:
    log, orders, verified = hand_built()
    found = attribute(
        log, orders, window=WEEK, verified_order=lambda n: [o for o in verified if o.number == n]
    ).as_dict()
    assert found["conversion_rate"] == 0.75  # c1, c2, c4 of c1-c4
    assert found["attributed_revenue"] == {"TWD": "2300"}
    detail = found["conversion"]
    assert [(o["conversation_id"], o["order_id"]) for o in detail["orders"]] == [
        ("c1", "shopify:O1"),
        ("c2", "shopify:O3"),
        ("c4", "shopify:O2"),
    ]
    assert detail["by_channel"]["web"] == {
        "engaged_conversations": 3,
        "converted_conversations": 2,
        "conversion_rate": 0.6667,
        "attributed_revenue": {"TWD": "1500"},
    }
    assert detail["by_channel"]["line"]["conversion_rate"] == 1.0
    assert detail["by_resolution"]["person"]["attributed_revenue"] == {"TWD": "800"}
    assert detail["by_resolution"]["bot"]["converted_conversations"] == 2
    assert detail["orders"][1]["trigger"] == "explicit_request"


def test_by_channel_and_by_period() -> None:
    log, orders, verified = hand_built()
    lookup = lambda n: [o for o in verified if o.number == n]  # noqa: E731
    line = attribute(log, orders, window=WEEK, channel="line", verified_order=lookup).as_dict()
    assert (line["conversion_rate"], line["attributed_revenue"]) == (1.0, {"TWD": "800"})
    later = attribute(log, orders, window=WEEK, start=at(4, 0), verified_order=lookup).as_dict()
    assert later["conversion"]["engaged_conversations"] == 1
    assert (later["conversion_rate"], later["attributed_revenue"]) == (1.0, {"TWD": "500"})
    # without the verified order, c2's customer (a LINE id) is not the buyer of O3
    blind = attribute(log, orders, window=WEEK).as_dict()
    assert blind["conversion_rate"] == 0.5 and blind["attributed_revenue"] == {"TWD": "1500"}
    # a one-day window: only O1, two hours after c1; O2 (26 h after c4) and O3 (48 h after c2)
    # fall outside
    short = attribute(log, orders, window=timedelta(days=1), verified_order=lookup).as_dict()
    assert (short["conversion_rate"], short["attributed_revenue"]) == (0.25, {"TWD": "1000"})


def test_nothing_to_divide_by_is_null() -> None:
    found = attribute([], [], window=WEEK).as_dict()
    assert found["conversion_rate"] is None and found["attributed_revenue"] == {}


@pytest.fixture
def services(demo_data_dir: Path, sqlite_url: str) -> Iterator[Services]:
    built = order_services(demo_data_dir, sqlite_url)
    yield built
    built.close()


def test_the_metrics_api_gives_conversion_by_channel(services: Services) -> None:
    service = services.conversations
    now = datetime.now(UTC)
    for channel, customer in (
        ("web", "amy@example.com"),
        ("web", "bob@example.com"),
        ("line", "0912345678"),
    ):
        started = service.start(channel, customer)
        service.send(started.id, "退貨要怎麼申請？")
    for number, email, phone, total in (
        ("9001", "amy@example.com", None, "1200"),
        ("9002", None, "+886912345678", "300"),
    ):
        services.orders.save(
            Order(
                number,
                "shopify",
                now + timedelta(hours=1),
                now + timedelta(hours=1),
                email=email,
                phone=phone,
                total=Decimal(total),
                currency="TWD",
            )
        )
    services.accounts.add("boss", "correct horse battery", "admin", "老闆")
    with TestClient(create_app(services)) as client:
        client.post(
            "/api/auth/login", json={"username": "boss", "password": "correct horse battery"}
        )
        everything = client.get("/api/metrics").json()
        web = client.get("/api/metrics", params={"channel": "web"}).json()
    assert (everything["conversion_rate"], everything["attributed_revenue"]) == (
        round(2 / 3, 4),
        {"TWD": "1500"},
    )
    assert web["channel"] == "web" and web["engaged_conversations"] == 2
    assert (web["conversion_rate"], web["attributed_revenue"]) == (0.5, {"TWD": "1200"})
    assert "conversion_rate" in web["definitions"] and "attributed_revenue" in web["definitions"]
    assert "deflection_rate" in web["definitions"]
