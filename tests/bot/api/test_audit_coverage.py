"""Every staff state change is on the audit log: walking the app's routes, each POST, PUT,
PATCH or DELETE under /api/agent or /api/admin has an action in STAFF_ACTIONS (or is one of
the few NOT_ACTIONS that keep nothing), and every entry of the table names a route that exists.
A route added without an audit action fails here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.api.audit import NOT_ACTIONS, STAFF_ACTIONS
from bot.app import create_app
from bot.services import Services
from tests.bot.api.test_agents_api import (  # noqa: F401 (fixtures)
    agents,
    logged_in,
    mei,
    tom,
    waiting,
)

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
STAFF_PREFIXES = ("/api/agent/", "/api/admin/")


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every API route, as the app's OpenAPI schema lists them
    (routers included in routers too)."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in {"GET", "HEAD", *CHANGES}
    }


def unaudited(app: FastAPI) -> list[tuple[str, str]]:
    """The staff state changes of the app with no audit action."""
    return sorted(
        (method, path)
        for method, path in routes_of(app)
        if method in CHANGES
        and path.startswith(STAFF_PREFIXES)
        and (method, path) not in STAFF_ACTIONS
        and (method, path) not in NOT_ACTIONS
    )


@pytest.fixture
def boss(agents: Services) -> Iterator[TestClient]:  # noqa: F811
    yield from logged_in(agents, "boss")


def test_every_staff_state_change_has_an_audit_action(services: Services) -> None:
    app = create_app(services)
    assert unaudited(app) == []
    assert sorted(set(STAFF_ACTIONS) - routes_of(app)) == []  # no stale entries
    assert sorted(NOT_ACTIONS - routes_of(app)) == []


def test_a_new_staff_route_without_an_action_is_found(services: Services) -> None:
    app = create_app(services)

    @app.put("/api/admin/something-new")
    def something_new() -> None: ...

    @app.delete("/api/agent/things/{thing_id}")
    def delete_thing(thing_id: str) -> None: ...

    @app.post("/api/conversations/{conversation_id}/elsewhere")
    def customer_side(conversation_id: str) -> None: ...  # not staff: not looked at

    assert unaudited(app) == [
        ("DELETE", "/api/agent/things/{thing_id}"),
        ("PUT", "/api/admin/something-new"),
    ]


def test_the_workspace_hours_and_offline_actions_are_recorded(
    client: TestClient,
    mei: TestClient,  # noqa: F811
    tom: TestClient,  # noqa: F811
    boss: TestClient,
) -> None:
    reply = {"shortcut": "hi", "title": "Hi", "text": "您好", "language": "zh"}
    added = mei.post("/api/agent/saved-replies", json=reply).json()
    assert mei.patch(f"/api/agent/saved-replies/{added['id']}", json={"text": "哈囉"}).is_success
    assert mei.delete(f"/api/agent/saved-replies/{added['id']}").status_code == 204
    conversation = waiting(client)
    path = f"/api/agent/conversations/{conversation}"
    assert boss.post(f"{path}/assign", json={"agent": "mei"}).status_code == 200
    assert mei.post(f"{path}/transfer", json={"agent": "tom", "note": "交給你"}).is_success
    assert tom.post(f"{path}/unassign").status_code == 200
    assert tom.post(f"{path}/typing").status_code == 204  # not an action
    left = client.post(
        f"/api/conversations/{conversation}/offline-message",
        json={"text": "請回電", "email": "a@example.tw"},
    ).json()
    answer = {"text": "已回電"}
    replied = mei.post(
        f"/api/agent/offline-messages/{conversation}/{left['seq']}/reply", json=answer
    )
    assert replied.status_code == 201, replied.text
    assert mei.put("/api/agent/presence", json={"status": "away"}).is_success
    hours = {"time_zone": "Asia/Taipei", "days": {"thu": ["22:00-02:00"]}, "holidays": []}
    assert boss.put("/api/admin/hours", json=hours).status_code == 200
    refused = mei.put("/api/admin/hours", json=hours)
    assert refused.status_code == 403  # refused: changes nothing, not recorded

    entries = boss.get("/api/admin/audit", params={"limit": 50}).json()["entries"]
    done = [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]
    done = [d for d in done if d[1] not in ("login", "logout")]
    assert done == [
        ("mei", "saved_reply_added", None),
        ("mei", "saved_reply_edited", added["id"]),
        ("mei", "saved_reply_deleted", added["id"]),
        ("boss", "assign", conversation),
        ("mei", "transfer", conversation),
        ("tom", "unassign", conversation),
        ("mei", "offline_reply", f"{conversation}/{left['seq']}"),
        ("mei", "presence", None),
        ("boss", "hours_changed", None),
    ]
