"""The order question in a conversation, through the served app as the widget calls it: the
order comes in by a signed Shopify webhook (or from a fake ERP), the customer asks, proves the
order is theirs with its phone number or email, and only then hears about it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import create_app
from bot.conversation.events import OrderLookup, TurnAnswered
from bot.orders.questions import asks_about_order, contact_in, order_number_in
from bot.orders.texts import TEXTS
from bot.reports.unanswered import unanswered_questions
from bot.services import Services
from bot.settings import OrdersSettings
from tests.bot.orders.conftest import SHOPIFY_SECRET, order_services, served
from tests.bot.orders.fake_erp import FIELDS, TOKEN, fake_erp
from tests.bot.orders.platforms import FakeShopify, shopify_fulfillment, shopify_order

SECRETS = "0912345678", "900123456789", "黑貓", "t-cat", "1280", "保溫瓶", "已出貨", "shipped"


@pytest.fixture
def shop(demo_data_dir: Path, sqlite_url: str) -> Iterator[tuple[str, Services]]:
    built = order_services(demo_data_dir, sqlite_url)
    with served(create_app(built)) as url:
        order = shopify_order(
            1001,
            fulfillment_status="fulfilled",
            fulfillments=[shopify_fulfillment()],
            updated_at="2026-12-02T11:05:00+08:00",
        )
        order["fulfillments"][0]["estimated_delivery_at"] = "2026-12-04"
        sent = FakeShopify(url, SHOPIFY_SECRET).send("orders/fulfilled", order)
        assert sent.json()["result"] == "created"
        yield url, built
    built.close()


class Customer:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        started = self.client.post("/api/conversations", json={"channel": "web"})
        assert started.status_code == 201
        self.id = started.json()["id"]
        self.client.headers["Authorization"] = f"Bearer {started.json()['customer_token']}"

    def says(self, text: str) -> dict[str, Any]:
        response = self.client.post(f"/api/conversations/{self.id}/messages", json={"text": text})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def events(self) -> list[dict[str, Any]]:
        return list(self.client.get(f"/api/conversations/{self.id}").json()["events"])


def lookups(services: Services, conversation_id: str) -> list[tuple[str, str]]:
    return [
        (r.event.stage, r.event.reason)
        for r in services.store.events(conversation_id)
        if isinstance(r.event, OrderLookup)
    ]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("訂單 #1001 出貨了嗎", "1001"),
        ("訂單編號 1001", "1001"),
        ("訂單編號：A-2026-77", "A-2026-77"),
        ("where is order 1001?", "1001"),
        ("my order number is #1001", "1001"),
        ("我的訂單到哪了", None),
        ("電話 0912345678", None),
        ("can I order 10 bottles?", None),
    ],
)
def test_order_numbers_are_recognised(text: str, number: str | None) -> None:
    assert order_number_in(text) == number


def test_bare_numbers_count_only_when_asked_for_and_phones_never() -> None:
    assert order_number_in("1001") is None
    assert order_number_in("1001", expecting=True) == "1001"
    assert order_number_in("是 1001 喔", expecting=True) == "1001"
    assert order_number_in("0912-345-678", expecting=True) is None
    assert order_number_in("mei1001@example.tw", expecting=True) is None
    for phone in ("0912345678", "0912-345-678", "+886912345678", "+886 912 345 678"):
        assert contact_in(f"我的電話是 {phone}") == phone
    assert contact_in("email: Mei@Example.tw") == "Mei@Example.tw"


def test_order_questions_and_faq_questions_about_orders() -> None:
    for text in (
        "我的訂單到哪了",
        "where is my order",
        "訂單 #1001 出貨了嗎",
        "包裹還沒到",
        "Has my order shipped yet?",
        "order 1001",
    ):
        assert asks_about_order(text), text
    for text in (
        "訂單狀態顯示「處理中」是什麼意思？",
        "退貨要怎麼申請？",
        "運費怎麼算",
        "how much is shipping",
    ):
        assert not asks_about_order(text), text


def test_asked_for_the_number_then_the_phone_then_answered(shop: tuple[str, Services]) -> None:
    url, services = shop
    me = Customer(url)
    first = me.says("我的訂單到哪了")
    assert first["reply"] == TEXTS["order_ask_number"]["zh"]
    second = me.says("1001")
    assert second["reply"] == TEXTS["order_ask_contact"]["zh"]
    answer = me.says("0912-345-678")
    assert answer["status"] == "answered" and answer["question"] == ""
    reply = answer["reply"]
    for part in (
        "#1001",
        "已出貨",
        "黑貓宅急便",
        "900123456789",
        "2026-12-04",
        "https://www.t-cat.com.tw/inquire/trace.aspx?no=900123456789",
    ):
        assert part in reply, part
    assert lookups(services, me.id) == [("asked", ""), ("verified", ""), ("answered", "")]
    # the lookups are for agents: the customer's transcript has the turns, not the events
    assert "order_lookup" not in {e["kind"] for e in me.events()}


def test_in_english_with_the_email_in_one_message(shop: tuple[str, Services]) -> None:
    url, _ = shop
    me = Customer(url)
    answer = me.says("Where is my order 1001? My email is MEI@example.tw")
    assert answer["language"] == "en"
    assert answer["reply"].startswith("Order #1001 is shipped.")
    assert "Tracking number: 900123456789" in answer["reply"]
    assert "Expected delivery: 2026-12-04" in answer["reply"]


def test_wrong_details_reveal_nothing_and_three_hand_off(shop: tuple[str, Services]) -> None:
    url, services = shop
    me = Customer(url)
    assert me.says("訂單 #1001 出貨了嗎")["reply"] == TEXTS["order_ask_contact"]["zh"]
    wrong = me.says("0911111111")
    # the same words for an order that exists with other details and for one that does not
    unknown = Customer(url)
    unknown.says("訂單 #9999 出貨了嗎")
    nothing = unknown.says("0912345678")
    assert wrong["reply"] == nothing["reply"] == TEXTS["order_not_verified"]["zh"]
    second = me.says("someone@example.tw")
    assert second["reply"] == TEXTS["order_not_verified"]["zh"]
    third = me.says("0922-222-222")
    assert third["reply"] == TEXTS["order_handed_off"]["zh"]
    assert third["conversation_status"] == "waiting"
    for turn in (wrong, second, third, nothing):
        assert not any(secret in turn["reply"] for secret in SECRETS)
    assert lookups(services, me.id) == [
        ("asked", ""),
        ("failed", "not_verified"),
        ("failed", "not_verified"),
        ("failed", "handed_off"),
    ]
    # a person owns it now: the bot says nothing more, the right phone included
    assert me.says("0912345678")["status"] == "delivered"


def test_order_details_stay_out_of_the_reports_and_the_follow_ups(
    shop: tuple[str, Services],
) -> None:
    url, services = shop
    me = Customer(url)
    me.says("訂單 #1001 出貨了嗎")
    me.says("0912345678")
    turns = [r.event for r in services.store.events(me.id) if isinstance(r.event, TurnAnswered)]
    assert turns and all(t.question == "" and not t.citations for t in turns)
    asked = [a.text for a in unanswered_questions(services.store.log())]
    assert not any(secret in text for text in asked for secret in SECRETS)


def test_with_no_orders_anywhere_the_faq_answers_as_before(
    demo_data_dir: Path, sqlite_url: str
) -> None:
    built = order_services(demo_data_dir, sqlite_url)
    try:
        with served(create_app(built)) as url:
            reply = Customer(url).says("我的訂單到哪了")["reply"]
    finally:
        built.close()
    assert reply not in (TEXTS["order_ask_number"]["zh"], TEXTS["order_ask_contact"]["zh"])


def test_from_the_erp_and_when_it_is_down(demo_data_dir: Path, sqlite_url: str) -> None:
    with fake_erp(slow_s=3.0) as (erp_url, seen):
        settings = OrdersSettings(
            erp_url=f"{erp_url}/api/orders/{{order_number}}",
            erp_headers={"Authorization": f"Bearer {TOKEN}"},
            erp_fields=FIELDS,
            erp_timeout_s=0.5,
        )
        built = order_services(demo_data_dir, sqlite_url, settings)
        try:
            with served(create_app(built)) as url:
                found = Customer(url).says("訂單編號 E100 到哪了？電話 0912345678")["reply"]
                slow = Customer(url)
                slow_reply = slow.says("訂單編號 S500 到哪了？電話 0912345678")["reply"]
                failing = Customer(url).says("訂單編號 B502 到哪了 0912345678")["reply"]
                assert lookups(built, slow.id)[-1] == ("failed", "unavailable")
        finally:
            built.close()
    assert "新竹物流" in found and "HCT-7788" in found and "2026-12-05" in found
    assert slow_reply == failing == TEXTS["order_unavailable"]["zh"]
    assert {s["path"] for s in seen} == {"/api/orders/E100", "/api/orders/S500", "/api/orders/B502"}


def test_the_agent_sees_the_customers_orders_once_verified(shop: tuple[str, Services]) -> None:
    url, services = shop
    me = Customer(url)
    me.says("訂單 #1001 出貨了嗎")
    services.accounts.add("mei", "correct horse battery", "agent", "美玲")
    with httpx.Client(base_url=url, timeout=30) as agent:
        path = f"/api/agent/conversations/{me.id}/orders"
        assert agent.get(path).status_code == 401
        login = {"username": "mei", "password": "correct horse battery"}
        assert agent.post("/api/auth/login", json=login).status_code == 200
        before = agent.get(path).json()
        me.says("0912345678")
        after = agent.get(path).json()
    assert before["count"] == 0 and before["orders"] == []
    assert (after["count"], after["spent"]) == (1, {"TWD": "1280.00"})
    [order] = after["orders"]
    assert (order["number"], order["status"], order["tracking_number"]) == (
        "1001",
        "shipped",
        "900123456789",
    )
