"""GET /api/admin/audit: admins only; every staff action of the requests below is on it,
with who, when, what and from which address; log-in failures too; no route changes it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import ANSWERED, REFUSED, send, start
from tests.customer_tokens import as_customer

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(services: Services) -> Services:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    services.accounts.add("boss", PASSWORD, "admin", "店長")
    return services


def _client(services: Services, username: str | None) -> Iterator[TestClient]:
    with as_customer(TestClient(create_app(services))) as client:
        if username is not None:
            response = client.post(
                "/api/auth/login", json={"username": username, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
        yield client


@pytest.fixture
def boss(staff: Services) -> Iterator[TestClient]:
    yield from _client(staff, "boss")


@pytest.fixture
def mei(staff: Services) -> Iterator[TestClient]:
    yield from _client(staff, "mei")


def _entries(client: TestClient, **params: str) -> list[dict]:
    response = client.get("/api/admin/audit", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def test_anonymous_401_agent_403(staff: Services, mei: TestClient) -> None:
    with TestClient(create_app(staff)) as anonymous:
        for path in ("/api/admin/audit", "/api/admin/audit.csv"):
            assert anonymous.get(path).status_code == 401
            assert mei.get(path).status_code == 403


def test_staff_actions_are_recorded_newest_first(
    staff: Services, mei: TestClient, boss: TestClient
) -> None:
    with TestClient(create_app(staff)) as stranger:
        wrong = stranger.post("/api/auth/login", json={"username": "mei", "password": "nope"})
        assert wrong.status_code == 401
    conversation = start(mei)
    send(mei, conversation, REFUSED)
    assert mei.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    assert mei.post(f"/api/agent/conversations/{conversation}/claim").status_code == 200
    path = f"/api/agent/conversations/{conversation}"
    assert mei.post(f"{path}/messages", json={"text": "您好"}).status_code == 201
    assert mei.post(f"{path}/notes", json={"text": "查訂單"}).status_code == 201
    assert mei.post(f"{path}/resolve").status_code == 200
    draft = mei.post(
        "/api/agent/drafts",
        json={"conversation_id": conversation, "question": ANSWERED, "answer": "請洽客服"},
    )
    assert draft.status_code == 201
    assert boss.post(f"/api/admin/drafts/{draft.json()['id']}/reject").status_code == 200
    upload = boss.post(
        "/api/admin/sources", files={"file": ("hours.md", io.BytesIO(b"# Hours\n\n9-18"))}
    )
    assert upload.status_code == 202, upload.text
    assert boss.get("/api/admin/metrics.csv").status_code == 200
    assert boss.get(f"{path}").status_code == 200  # reading is not an action
    assert mei.post(f"{path}/claim").status_code == 409  # a refused action changes nothing

    entries = _entries(boss)
    actions = [(e["actor"], e["action"]) for e in entries]
    assert actions == [
        ("boss", "export_metrics"),
        ("boss", "knowledge_upload"),
        ("boss", "draft_rejected"),
        ("mei", "draft_saved"),
        ("mei", "resolve"),
        ("mei", "note"),
        ("mei", "reply"),
        ("mei", "claim"),
        ("mei", "login_failed"),
        ("boss", "login"),  # the fixtures logged in first
        ("mei", "login"),
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["claim"]["target"] == conversation
    assert by_action["claim"]["role"] == "agent" and by_action["claim"]["outcome"] == 200
    assert by_action["knowledge_upload"]["target"] == "hours.md"
    assert by_action["login_failed"]["outcome"] == 401
    assert all(e["address"] == "testclient" and e["at"] for e in entries)
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)

    assert [e["action"] for e in _entries(boss, actor="boss")][:2] == [
        "export_metrics",
        "knowledge_upload",
    ]
    assert {e["actor"] for e in _entries(boss, action="login")} == {"mei", "boss"}
    assert _entries(boss, **{"from": "2000-01-01", "to": "2000-01-02"}) == []
    exported = boss.get("/api/admin/audit.csv", params={"actor": "mei"})
    assert exported.status_code == 200 and "login_failed" in exported.text
    assert _entries(boss, action="export_audit")[0]["actor"] == "boss"


def test_no_route_changes_the_log(boss: TestClient) -> None:
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert boss.request(method, "/api/admin/audit").status_code == 405
    assert [e["action"] for e in _entries(boss)] == ["login"]


def test_bad_filters_get_a_clear_error(boss: TestClient) -> None:
    response = boss.get("/api/admin/audit", params={"from": "yesterday"})
    assert response.status_code == 400  # as the metrics' period says it
    assert response.json()["code"] and "ISO" in response.json()["message"]
