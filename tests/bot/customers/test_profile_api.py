"""The 360° profile through the real app, on SQLite and PostgreSQL: contacts verified or only
self-reported, marketing opt-in and opt-out with their source and time, the shop's own fields
(defined by an admin, filled in by agents, on the audit log), completeness in GET /api/metrics
by channel, and the audience export of the customers who consented."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from bot.app import create_app
from bot.conversation.events import OrderLookup
from bot.customers.consent import MarketingConsents
from bot.customers.fields import CustomFields
from bot.orders.model import Order
from bot.services import Services
from tests.bot.api.conftest import demo_data_dir  # noqa: F401  (a fixture)
from tests.bot.conversation.conftest import (  # noqa: F401  (fixtures)
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)
from tests.bot.orders.conftest import order_services

PASSWORD = "correct horse battery"


@pytest.fixture
def services(demo_data_dir: Path, sql_url: str) -> Iterator[Services]:  # noqa: F811
    built = order_services(demo_data_dir, sql_url)
    yield built
    built.close()


def logged_in(services: Services, username: str, role: str) -> Iterator[TestClient]:
    services.accounts.add(username, PASSWORD, role, username)
    with TestClient(create_app(services)) as client:
        response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture
def boss(services: Services) -> Iterator[TestClient]:
    yield from logged_in(services, "boss", "admin")


@pytest.fixture
def mei(services: Services) -> Iterator[TestClient]:
    yield from logged_in(services, "mei", "agent")


def customers(services: Services) -> dict[str, str]:
    """Three customers: a web one the shop signed (an e-mail), a LINE one who proved an order,
    and a LINE one nobody knows anything about; their identities by name."""
    service = services.conversations
    amy = service.start("web", "amy@example.com")
    service.send(amy.id, "退貨要怎麼申請？")
    bob = service.start("line", "line:Ubob")
    service.send(bob.id, "運費多少？")
    services.orders.save(
        Order(
            "5001",
            "shopify",
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            email="bob@example.com",
            phone="0912-345-678",
            total=Decimal(990),
            currency="TWD",
        )
    )
    services.store.append(
        OrderLookup(conversation_id=bob.id, stage="verified", order_number="5001")
    )
    cat = service.start("line", "line:Ucat")
    service.send(cat.id, "你好")
    return {"amy": f"conversation:{amy.id}", "bob": "line:Ubob", "cat": "line:Ucat"}


def test_contacts_are_verified_only_from_a_verified_source(
    services: Services, mei: TestClient, boss: TestClient
) -> None:
    who = customers(services)
    amy = mei.get(f"/api/agent/customers/{who['amy']}").json()
    assert amy["contacts"] == [
        {
            "kind": "email",
            "value": "amy@example.com",
            "verified": True,
            "source": "signed_customer_id",
        }
    ]
    assert amy["profile"]["verified_email"] == "amy@example.com"
    bob = mei.get(f"/api/agent/customers/{who['bob']}").json()
    assert {(c["kind"], c["value"], c["verified"], c["source"]) for c in bob["contacts"]} == {
        ("email", "bob@example.com", True, "order_match"),
        ("phone", "+886912345678", True, "order_match"),
    }
    # a phone the customer asked an admin to put on record is theirs, but not verified
    [cat] = services.store.conversations(customer_id="line:Ucat")
    corrected = boss.patch("/api/admin/customers/line:Ucat", json={"phone": "0987654321"})
    assert corrected.status_code == 200, corrected.text
    found = mei.get(f"/api/agent/customers/{who['cat']}").json()
    assert found["contacts"] == [
        {"kind": "phone", "value": "+886987654321", "verified": False, "source": "self_reported"}
    ]
    assert found["profile"]["phone"] == "0987654321"  # as they gave it
    assert "verified_phone" not in found["profile"]
    assert cat.id in {c["id"] for c in found["conversations"]}


def test_consent_opt_in_and_out_with_source_and_time(
    services: Services, mei: TestClient, boss: TestClient
) -> None:
    who = customers(services)
    path = f"/api/agent/customers/{who['bob']}/consent"
    before = mei.get(f"/api/agent/customers/{who['bob']}").json()
    assert before["consent"] is None and before["contactable"] is False
    assert "marketing_consent" not in before["profile"]

    opted_in = mei.post(path, json={"consent": True, "source": "conversation", "note": "想收優惠"})
    assert opted_in.status_code == 201, opted_in.text
    view = opted_in.json()
    assert view["contactable"] is True and view["profile"]["marketing_consent"] is True
    assert view["consent"]["source"] == "conversation" and view["consent"]["actor"] == "agent:mei"
    assert view["consent"]["at"]

    out = mei.post(path, json={"consent": False, "source": "phone"}).json()
    assert out["contactable"] is False and out["profile"]["marketing_consent"] is False
    assert [c["consent"] for c in out["consent_history"]] == [True, False]

    bad = mei.post(path, json={"consent": True, "source": "a rumour"})
    assert bad.status_code == 422 or bad.status_code == 400
    unknown = mei.post(
        "/api/agent/customers/line:Unobody/consent", json={"consent": True, "source": "phone"}
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_identity"

    # a stop on marketing use recorded on the customer's request wins over an earlier opt-in
    mei.post(
        f"/api/agent/customers/{who['cat']}/consent", json={"consent": True, "source": "in_store"}
    )
    stopped = boss.patch("/api/admin/customers/line:Ucat", json={"marketing_opt_out": True})
    assert stopped.status_code == 200, stopped.text
    cat = mei.get(f"/api/agent/customers/{who['cat']}").json()
    assert cat["contactable"] is False and cat["consent"]["source"] == "privacy_request"


def test_the_shops_own_fields(services: Services, mei: TestClient, boss: TestClient) -> None:
    who = customers(services)
    made = boss.post(
        "/api/admin/custom-fields",
        json={
            "name": "vip_level",
            "label_zh": "會員等級",
            "label_en": "VIP level",
            "kind": "choice",
            "choices": ["銀", "金"],
            "wanted": True,
        },
    )
    assert made.status_code == 201, made.text
    birthday = {"name": "birthday", "label_zh": "生日", "label_en": "Birthday", "kind": "date"}
    assert boss.post("/api/admin/custom-fields", json=birthday).status_code == 201
    again = boss.post("/api/admin/custom-fields", json=birthday)
    assert again.status_code == 409 and again.json()["code"] == "field_exists"
    no_choices = {**birthday, "name": "tier", "kind": "choice"}
    assert boss.post("/api/admin/custom-fields", json=no_choices).json()["code"] == "invalid_field"
    assert mei.post("/api/admin/custom-fields", json={**birthday, "name": "x"}).status_code == 403
    assert [f["name"] for f in mei.get("/api/agent/custom-fields").json()] == [
        "vip_level",
        "birthday",
    ]

    field = f"/api/agent/customers/{who['bob']}/fields"
    wrong = mei.put(f"{field}/vip_level", json={"value": "鑽石"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_value"
    assert mei.put(f"{field}/birthday", json={"value": "不是日期"}).status_code == 400
    assert mei.put(f"{field}/nothing", json={"value": "x"}).status_code == 404
    before = mei.get(f"/api/agent/customers/{who['bob']}").json()
    assert "field:vip_level" in before["wanted"]
    done = mei.put(f"{field}/vip_level", json={"value": "金"})
    assert done.status_code == 200, done.text
    view = done.json()
    assert view["profile"]["field:vip_level"] == "金"
    assert view["field_values"]["vip_level"]["updated_by"] == "mei"
    assert view["completeness"] > before["completeness"]
    cleared = mei.put(f"{field}/vip_level", json={"value": None}).json()
    assert "field:vip_level" not in cleared["profile"]

    assert boss.delete("/api/admin/custom-fields/birthday").status_code == 204
    assert boss.delete("/api/admin/custom-fields/birthday").status_code == 404

    entries = boss.get("/api/admin/audit", params={"limit": 50}).json()["entries"]
    done_actions = [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]
    assert ("boss", "custom_field_added", "vip_level") in done_actions
    assert ("mei", "customer_field_set", f"{who['bob']}/vip_level") in done_actions
    assert ("boss", "custom_field_removed", "birthday") in done_actions


def test_completeness_by_channel_in_the_metrics(
    services: Services, mei: TestClient, boss: TestClient
) -> None:
    who = customers(services)
    everyone = boss.get("/api/metrics").json()
    line = boss.get("/api/metrics", params={"channel": "line"}).json()
    web = boss.get("/api/metrics", params={"channel": "web"}).json()
    assert everyone["profile"]["customers"] == 3
    assert line["profile"]["customers"] == 2 and web["profile"]["customers"] == 1
    coverage = {f["field"]: f for f in everyone["profile"]["fields"]}
    # amy (signed e-mail) and bob (a proved order) have a verified e-mail; cat has none
    assert coverage["verified_email"]["customers"] == 2
    assert coverage["verified_email"]["share"] == round(2 / 3, 4)
    assert coverage["marketing_consent"]["customers"] == 0
    assert set(everyone["definitions"]) >= {
        "profile_completeness",
        "profile_field_coverage",
        "cross_channel_rate",
        "repeat_contact_rate",
    }
    # nobody is linked across channels yet; after an agent's merge amy wrote on two
    assert everyone["continuity"]["customers_who_wrote"] == 3
    assert everyone["cross_channel_rate"] == 0.0
    assert 0 <= everyone["profile_completeness"] <= 1
    report = boss.get("/api/admin/customers/completeness", params={"channel": "line"}).json()
    assert report["customers"] == 2 and report["mean"] == line["profile_completeness"]

    merged = mei.post(
        "/api/agent/customers/merge",
        json={"first": who["amy"], "second": who["cat"], "reason": "同一人"},
    )
    assert merged.status_code == 200, merged.text
    after = boss.get("/api/metrics").json()
    assert after["continuity"]["customers_who_wrote"] == 2
    assert after["cross_channel_rate"] == 0.5


def test_the_audience_export_lists_only_who_consented(
    services: Services, mei: TestClient, boss: TestClient
) -> None:
    who = customers(services)
    mei.post(
        f"/api/agent/customers/{who['amy']}/consent", json={"consent": True, "source": "shop_form"}
    )
    mei.post(
        f"/api/agent/customers/{who['bob']}/consent",
        json={"consent": True, "source": "conversation"},
    )
    mei.post(
        f"/api/agent/customers/{who['bob']}/consent", json={"consent": False, "source": "phone"}
    )
    # a customer's words that a spreadsheet would run as a formula
    boss.patch("/api/admin/customers/line:Ucat", json={"name": '=HYPERLINK("http://x")'})
    mei.post(
        f"/api/agent/customers/{who['cat']}/consent", json={"consent": True, "source": "in_store"}
    )

    response = boss.get("/api/admin/audience.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert sorted(r["identities"] for r in rows) == sorted([who["amy"], who["cat"]])
    amy = next(r for r in rows if r["identities"] == who["amy"])
    assert (amy["email"], amy["email_verified"], amy["contactable"]) == (
        "amy@example.com",
        "yes",
        "yes",
    )
    assert amy["consent_source"] == "shop_form" and amy["consent_at"]
    cat = next(r for r in rows if r["identities"] == who["cat"])
    assert cat["display_name"] == '\'=HYPERLINK("http://x")'

    line = boss.get("/api/admin/audience.csv", params={"channel": "line"}).text
    assert who["amy"] not in line and who["cat"] in line
    everyone = boss.get("/api/admin/audience.xlsx", params={"everyone": "true"})
    sheet = load_workbook(io.BytesIO(everyone.content)).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header, body = table[0], table[1:]
    assert len(body) == 3
    bob = next(r for r in body if r[header.index("identities")] == who["bob"])
    assert bob[header.index("contactable")] == "no"
    assert bob[header.index("marketing_consent")] == "no"
    assert mei.get("/api/admin/audience.csv").status_code == 403
    entries = boss.get("/api/admin/audit", params={"action": "export_audience"}).json()
    assert entries["count"] == 3


def test_the_customers_copy_holds_consent_and_fields_and_erasure_deletes_them(
    services: Services, mei: TestClient, boss: TestClient
) -> None:
    who = customers(services)
    boss.post(
        "/api/admin/custom-fields",
        json={"name": "size", "label_zh": "尺寸", "label_en": "Size", "kind": "text"},
    )
    mei.put(f"/api/agent/customers/{who['bob']}/fields/size", json={"value": "M"})
    mei.post(
        f"/api/agent/customers/{who['bob']}/consent",
        json={"consent": True, "source": "conversation"},
    )
    copy = boss.get("/api/admin/customers/line:Ubob/export").json()
    assert [c["consent"] for c in copy["marketing_consent"]] == [True]
    assert copy["custom_fields"]["size"]["value"] == "M"

    assert boss.delete("/api/admin/customers/line:Ubob").status_code == 200
    assert MarketingConsents(services.store.engine).history(["line:Ubob"]) == []
    assert CustomFields(services.store.engine).values_of(["line:Ubob"]) == {}
    # another customer's answers stay
    mei.post(
        f"/api/agent/customers/{who['cat']}/consent", json={"consent": True, "source": "phone"}
    )
    assert len(MarketingConsents(services.store.engine).history(["line:Ucat"])) == 1
