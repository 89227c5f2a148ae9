"""The customer's rights beyond the JSON copy, on SQLite and PostgreSQL: the copy as a page a
person reads (escaped, headings in both languages), the customer's own copy of a conversation
from the widget's route, corrections and the stop on marketing use (in the copy, in the
profile, gone with erasure), each on the audit log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import ANSWERED, send, signed, start

ALICE = "alice@example.com"
PASSWORD = "correct horse battery"
HOSTILE = '<script>alert("x")</script> 我的訂單 A100'


def _staff(services: Services) -> tuple[TestClient, TestClient]:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    anonymous = TestClient(create_app(services))
    agent = TestClient(create_app(services))
    agent.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
    return anonymous, agent


def _audit(admin: TestClient) -> list[tuple[str, str, int]]:
    entries = admin.get("/api/admin/audit", params={"actor": "boss"}).json()["entries"]
    return [(e["action"], e["target"], e["outcome"]) for e in entries]


def test_the_copy_as_a_page_escapes_everything_and_is_audited(
    any_admin: TestClient, any_services: Services
) -> None:
    conversation = start(any_admin, **signed(ALICE))
    send(any_admin, conversation, HOSTILE)
    path = f"/api/admin/customers/{ALICE}/export.html"
    anonymous, agent = _staff(any_services)
    assert anonymous.get(path).status_code == 401
    assert agent.get(path).status_code == 403

    page = any_admin.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "attachment" in page.headers["content-disposition"]
    html = page.text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 我的訂單 A100" in html
    for heading in (
        "個人資料副本 / Copy of personal data",
        "對話 / Conversations",
        "顧客 / Customer",
    ):
        assert heading in html
    assert conversation in html and ALICE in html
    assert any_admin.get("/api/admin/customers/nobody/export.html").status_code == 404
    assert _audit(any_admin)[0] == ("customer_export", ALICE, 200)


def test_a_customer_downloads_their_own_conversation_and_nothing_private(
    any_admin: TestClient,
) -> None:
    conversation = start(any_admin, **signed(ALICE), language="zh")
    turn = send(any_admin, conversation, ANSWERED)
    assert any_admin.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    agent_path = f"/api/agent/conversations/{conversation}"
    assert any_admin.post(f"{agent_path}/claim").status_code == 200
    assert any_admin.post(f"{agent_path}/notes", json={"text": "內部備註：VIP"}).is_success
    assert any_admin.post(f"{agent_path}/messages", json={"text": "您好，我來協助您"}).is_success

    copy = any_admin.get(f"/api/conversations/{conversation}/copy")
    assert copy.status_code == 200, copy.text
    assert copy.headers["content-type"].startswith("text/plain")
    assert f'filename="conversation-{conversation}.txt"' in copy.headers["content-disposition"]
    text = copy.text
    assert ANSWERED in text and turn["reply"].splitlines()[0] in text
    assert "您好，我來協助您" in text and "客服人員 店長" in text
    assert "VIP" not in text  # private notes stay inside
    for token in (None, "Bearer wrong"):
        headers = {"Authorization": token} if token else {"Authorization": ""}
        refused = any_admin.get(f"/api/conversations/{conversation}/copy", headers=headers)
        assert refused.status_code == 404


def test_corrections_and_the_marketing_stop_are_kept_shown_exported_and_erased(
    any_admin: TestClient, any_services: Services
) -> None:
    conversation = start(any_admin, **signed(ALICE))
    send(any_admin, conversation, ANSWERED)
    path = f"/api/admin/customers/{ALICE}"
    body = {"name": "王小美", "email": "mei.wang@example.tw", "marketing_opt_out": True}
    anonymous, agent = _staff(any_services)
    assert anonymous.patch(path, json=body).status_code == 401
    assert agent.patch(path, json=body).status_code == 403

    for bad, status in [
        ({}, 400),
        ({"email": "not an email"}, 422),
        ({"phone": "12"}, 422),
        ({"marketing_opt_out": None}, 400),
        ({"nickname": "x"}, 400),
    ]:
        refused = any_admin.patch(path, json=bad)
        assert refused.status_code == status, (bad, refused.text)
        assert refused.json()["code"]
    assert any_admin.patch("/api/admin/customers/nobody", json=body).status_code == 404

    done = any_admin.patch(path, json=body)
    assert done.status_code == 200, done.text
    corrected = done.json()
    assert (corrected["name"], corrected["email"], corrected["phone"]) == (
        "王小美",
        "mei.wang@example.tw",
        None,
    )
    assert corrected["marketing_opt_out"] is True and corrected["opt_out_by"] == "boss"
    assert corrected["opt_out_at"]
    # a second correction changes only what it sends
    again = any_admin.patch(path, json={"phone": "0912-345-678", "name": None}).json()
    assert (again["name"], again["phone"], again["marketing_opt_out"]) == (
        None,
        "0912-345-678",
        True,
    )

    profile = any_admin.get(f"/api/agent/conversations/{conversation}/customer").json()["profile"]
    assert profile["email"] == "mei.wang@example.tw" and profile["phone"] == "0912-345-678"
    assert profile["marketing_consent"] is False
    exported = any_admin.get(f"{path}/export").json()["profile"]
    assert exported["email"] == "mei.wang@example.tw" and exported["marketing_opt_out"] is True
    assert "mei.wang@example.tw" in any_admin.get(f"{path}/export.html").text

    assert any_admin.delete(path).status_code == 200
    customers = any_services.customers()
    assert customers is not None and customers.corrections.get(ALICE) is None
    assert [a for a, _, _ in _audit(any_admin)[:4]] == [
        "customer_erased",
        "customer_export",
        "customer_export",
        "customer_corrected",
    ]
