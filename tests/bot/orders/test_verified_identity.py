"""A customer already verified on their channel needs not prove an order again: the shop's
signed customer id, or an order proved earlier on an identity linked with this one, is the
proof when it is the order's e-mail or phone. Anything less still asks, and reveals nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.conversation.events import OrderLookup, TurnAnswered
from bot.orders.model import Order
from bot.orders.texts import TEXTS
from bot.services import Services
from tests.bot.orders.conftest import order_services

ASK_CONTACT = TEXTS["order_ask_contact"]["zh"]


@pytest.fixture
def services(demo_data_dir: Path, sqlite_url: str) -> Iterator[Services]:
    built = order_services(demo_data_dir, sqlite_url)
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    built.orders.save(
        Order(
            "7001",
            "shopify",
            at,
            at,
            status="shipped",
            email="amy@example.com",
            phone="0912-345-678",
            carrier="黑貓宅急便",
            tracking_number="900123456789",
            total=Decimal(1280),
            currency="TWD",
        )
    )
    yield built
    built.close()


def turns(services: Services, conversation_id: str) -> list[str]:
    return [
        r.event.reply
        for r in services.store.events(conversation_id)
        if isinstance(r.event, TurnAnswered)
    ]


def lookups(services: Services, conversation_id: str) -> list[tuple[str, str]]:
    return [
        (r.event.stage, r.event.reason)
        for r in services.store.events(conversation_id)
        if isinstance(r.event, OrderLookup)
    ]


def test_the_shops_signed_customer_id_is_the_proof(services: Services) -> None:
    amy = services.conversations.start("web", "amy@example.com")
    services.conversations.send(amy.id, "訂單 #7001 出貨了嗎？")
    [reply] = turns(services, amy.id)
    assert "900123456789" in reply and "黑貓" in reply
    assert lookups(services, amy.id) == [
        ("asked", ""),
        ("verified", "verified_identity"),
        ("answered", ""),
    ]


def test_someone_else_still_proves_and_hears_nothing_before(services: Services) -> None:
    bob = services.conversations.start("web", "bob@example.com")  # signed, but not the buyer
    services.conversations.send(bob.id, "訂單 #7001 出貨了嗎？")
    hint = services.conversations.start("web", None, customer_hint="amy@example.com")
    services.conversations.send(hint.id, "訂單 #7001 出貨了嗎？")  # a hint proves nothing
    for conversation in (bob, hint):
        [reply] = turns(services, conversation.id)
        assert reply == ASK_CONTACT
        assert "900123456789" not in reply and "7001" not in reply
        assert ("verified", "verified_identity") not in lookups(services, conversation.id)


def test_an_order_proved_on_a_linked_channel_proves_the_next(services: Services) -> None:
    web = services.conversations.start("web")
    services.conversations.send(web.id, "訂單 #7001 出貨了嗎？")
    services.conversations.send(web.id, "0912345678")  # proved here, by the phone
    assert ("verified", "") in lookups(services, web.id)
    line = services.conversations.start("line", "line:Uamy")
    services.conversations.send(line.id, "訂單 #7001 到哪了")
    assert turns(services, line.id) == [ASK_CONTACT]  # not linked yet: asked
    assert services.identities is not None
    services.identities.merge(f"conversation:{web.id}", "line:Uamy", "agent:mei", "同一人")
    again = services.conversations.start("line", "line:Uamy")
    services.conversations.send(again.id, "訂單 #7001 到哪了")
    [reply] = turns(services, again.id)
    assert "900123456789" in reply
    assert ("verified", "verified_identity") in lookups(services, again.id)


def test_the_agent_sees_the_orders_of_every_linked_channel(services: Services) -> None:
    web = services.conversations.start("web", "amy@example.com")  # signed: amy's e-mail
    line = services.conversations.start("line", "line:Uamy")
    services.conversations.send(line.id, "你好")
    services.accounts.add("mei", "correct horse battery", "agent", "美玲")
    with TestClient(create_app(services)) as agent:
        agent.post("/api/auth/login", json={"username": "mei", "password": "correct horse battery"})
        path = f"/api/agent/conversations/{line.id}/orders"
        assert agent.get(path).json()["count"] == 0
        assert services.identities is not None
        services.identities.merge(f"conversation:{web.id}", "line:Uamy", "agent:mei", "同一人")
        found = agent.get(path).json()
    assert found["count"] == 1 and found["orders"][0]["number"] == "7001"
    assert found["spent"] == {"TWD": "1280"}
