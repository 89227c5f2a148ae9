"""A customer's copy and erasure, for a customer with conversations on two channels, on SQLite
and PostgreSQL: admins only; the copy holds both; after erasure both answer 404 to everyone,
the metrics' counts are unchanged, and both requests are on the audit log."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import ANSWERED, REFUSED, send, signed, start

ALICE = "alice@example.com"
PASSWORD = "correct horse battery"


def _counts(client: TestClient) -> dict[str, Any]:
    """The conversation metrics. The numbers per customer (profile completeness, cross-channel
    continuity) change by design: an erased customer is nobody any more."""
    found = client.get("/api/metrics").json()
    found["unanswered"].pop("top_refused_questions")
    found["period"].pop("now")
    for per_customer in (
        "profile",
        "profile_completeness",
        "continuity",
        "cross_channel_rate",
        "repeat_contact_rate",
    ):
        found.pop(per_customer)
    return found


def test_export_and_erase_a_customer_on_two_channels(
    any_admin: TestClient, any_services: Services
) -> None:
    on_web = start(any_admin, **signed(ALICE))
    send(any_admin, on_web, f"{ANSWERED} 我的電話 0912-345-678")
    on_line = start(any_admin, channel="line", **signed(ALICE))
    send(any_admin, on_line, REFUSED)
    assert any_admin.post(f"/api/conversations/{on_line}/handoff").status_code == 200
    assert any_admin.post(f"/api/agent/conversations/{on_line}/claim").status_code == 200
    note = {"text": "Alice 要退款"}
    assert any_admin.post(f"/api/agent/conversations/{on_line}/notes", json=note).status_code
    other = start(any_admin, **signed("bob"))
    send(any_admin, other, ANSWERED)
    path = f"/api/admin/customers/{ALICE}"

    any_services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(any_services)) as anonymous:
        assert anonymous.get(f"{path}/export").status_code == 401
        assert anonymous.delete(path).status_code == 401
        anonymous.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert anonymous.get(f"{path}/export").status_code == 403
        assert anonymous.delete(path).status_code == 403

    exported = any_admin.get(f"{path}/export")
    assert exported.status_code == 200, exported.text
    copy = exported.json()
    assert copy["customer_id"] == ALICE and copy["channels"] == ["line", "web"]
    assert {c["id"] for c in copy["conversations"]} == {on_web, on_line}
    texts = str(copy["conversations"])
    assert "0912-345-678" in texts and "Alice 要退款" in texts  # everything held, notes too

    before = _counts(any_admin)
    erased = any_admin.delete(path)
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased_conversations"] == 2
    assert _counts(any_admin) == before
    for cid in (on_web, on_line):
        assert any_admin.get(f"/api/conversations/{cid}").status_code == 404
        assert any_admin.get(f"/api/agent/conversations/{cid}").status_code == 404
        posted = any_admin.post(f"/api/conversations/{cid}/messages", json={"text": "hi"})
        assert posted.status_code == 404
    assert any_admin.get(f"{path}/export").json()["code"] == "customer_not_found"
    assert any_admin.delete(path).status_code == 404
    assert any_admin.get(f"/api/conversations/{other}").status_code == 200
    logged = str([e.payload() for _, e in any_services.store.log()])
    assert ALICE not in logged and "0912-345-678" not in logged and "Alice" not in logged
    assert all(
        e["id"] != on_line for e in any_admin.get("/api/agent/queue").json()["conversations"]
    )
    dashboard = any_admin.get("/api/admin/conversations", params={"metric": "engaged"})
    assert dashboard.status_code == 200 and [
        c["id"] for c in dashboard.json()["conversations"]
    ] == [other]

    audit = any_admin.get("/api/admin/audit", params={"actor": "boss"}).json()["entries"]
    recorded = [(e["action"], e["target"], e["outcome"]) for e in audit[:2]]
    assert recorded == [("customer_erased", ALICE, 200), ("customer_export", ALICE, 200)]
