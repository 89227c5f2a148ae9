"""User management and the widget's branding on the real app: who may call them, adding an
agent who then logs in, changes, password resets and deactivation that end sessions, the last
admin kept, and branding that reaches the anonymous widget config."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import ADMIN_PASSWORD

PASSWORD = "agent correct horse"


def logged_in(services: Services, username: str, password: str) -> TestClient:
    client = TestClient(create_app(services))
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def test_anonymous_callers_get_401_and_agents_403(client: TestClient, services: Services) -> None:
    for method, path in (
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("PATCH", "/api/admin/users/mei"),
        ("DELETE", "/api/admin/users/mei"),
        ("GET", "/api/admin/widget"),
        ("PUT", "/api/admin/widget"),
        ("DELETE", "/api/admin/widget"),
    ):
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["code"] == "not_logged_in"
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    agent = logged_in(services, "mei", PASSWORD)
    for path in ("/api/admin/users", "/api/admin/widget"):
        refused = agent.get(path)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    refused = agent.post(
        "/api/admin/users", json={"username": "evil", "password": PASSWORD, "role": "admin"}
    )
    assert refused.status_code == 403
    assert services.accounts.get("evil") is None


def test_an_admin_adds_an_agent_who_logs_in(admin: TestClient, services: Services) -> None:
    created = admin.post(
        "/api/admin/users",
        json={"username": "Mei", "display_name": "美玲", "role": "agent", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "username": "mei",
        "display_name": "美玲",
        "role": "agent",
        "active": True,
    }
    listed = admin.get("/api/admin/users").json()["users"]
    assert [(u["username"], u["role"], u["active"]) for u in listed] == [
        ("boss", "admin", True),
        ("mei", "agent", True),
    ]
    mei = logged_in(services, "mei", PASSWORD)
    assert mei.get("/api/auth/me").json()["display_name"] == "美玲"
    actions = [e["action"] for e in admin.get("/api/admin/audit").json()["entries"]]
    assert "user_added" in actions


def test_bad_accounts_are_refused_with_their_code(admin: TestClient, services: Services) -> None:
    def add(**body: str) -> tuple[int, str, dict[str, str]]:
        r = admin.post("/api/admin/users", json={"password": PASSWORD, **body})
        return r.status_code, r.json()["code"], r.json().get("messages") or {}

    status, code, messages = add(username="a b")
    assert (status, code) == (400, "invalid_username") and messages["zh"]
    status, code, _ = add(username="mei", password="short")
    assert (status, code) == (400, "weak_password")
    assert add(username="boss")[:2] == (409, "user_exists")
    status, _, _ = add(username="mei", role="owner")
    assert status == 422
    assert [u.username for u in services.accounts.list()] == ["boss"]
    missing = admin.patch("/api/admin/users/nobody", json={"display_name": "x"})
    assert missing.status_code == 404 and missing.json()["code"] == "no_such_user"


def test_changes_and_a_password_reset(admin: TestClient, services: Services) -> None:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    mei = logged_in(services, "mei", PASSWORD)
    changed = admin.patch(
        "/api/admin/users/mei", json={"display_name": "Mei Lin", "role": "admin"}
    ).json()
    assert changed["display_name"] == "Mei Lin" and changed["role"] == "admin"
    assert mei.get("/api/admin/users").status_code == 200  # an admin now, same session
    reset = admin.patch("/api/admin/users/mei", json={"password": "a brand new password"})
    assert reset.status_code == 200
    assert mei.get("/api/auth/me").status_code == 401  # the old session ended
    logged_in(services, "mei", "a brand new password")
    weak = admin.patch("/api/admin/users/mei", json={"password": "short"})
    assert weak.status_code == 400 and weak.json()["code"] == "weak_password"


def test_deactivated_users_cannot_log_in_and_their_sessions_end(
    admin: TestClient, services: Services
) -> None:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    mei = logged_in(services, "mei", PASSWORD)
    gone = admin.delete("/api/admin/users/mei")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert mei.get("/api/agent/queue").status_code == 401
    again = TestClient(create_app(services)).post(
        "/api/auth/login", json={"username": "mei", "password": PASSWORD}
    )
    assert again.status_code == 401 and again.json()["code"] == "invalid_credentials"
    assert "mei" not in [a["username"] for a in admin.get("/api/agent/agents").json()["agents"]]
    back = admin.patch("/api/admin/users/mei", json={"active": True})
    assert back.json()["active"] is True
    logged_in(services, "mei", PASSWORD)


def test_the_last_admin_stays_an_admin(admin: TestClient, services: Services) -> None:
    for change in ({"active": False}, {"role": "agent"}):
        refused = admin.patch("/api/admin/users/boss", json=change)
        assert refused.status_code == 409 and refused.json()["code"] == "last_admin"
    assert admin.delete("/api/admin/users/boss").json()["code"] == "last_admin"
    assert admin.get("/api/auth/me").status_code == 200
    services.accounts.add("owner", ADMIN_PASSWORD, "admin", "老闆")
    assert admin.patch("/api/admin/users/boss", json={"role": "agent"}).status_code == 200
    assert admin.get("/api/admin/users").status_code == 403


BROWN = {
    "name": {"zh": "咖啡小舖", "en": "Little Coffee Shop"},
    "greeting": {"zh": "歡迎光臨咖啡小舖！", "en": "Welcome to the coffee shop!"},
    "primary_colour": "#6F4E37",
    "logo_url": "https://shop.example/logo.png",
    "position": "left",
}


def test_branding_reaches_the_widget_config(admin: TestClient) -> None:
    before = admin.get("/api/widget/config").json()["branding"]
    assert before["name"]["zh"] == "好日子客服中心" and before["position"] == "right"
    saved = admin.put("/api/admin/widget", json=BROWN)
    assert saved.status_code == 200, saved.text
    assert saved.json()["primary_colour"] == "#6f4e37"
    anonymous = TestClient(admin.app).get("/api/widget/config").json()["branding"]
    assert anonymous == {**BROWN, "primary_colour": "#6f4e37"}
    assert admin.get("/api/admin/widget").json() == anonymous


def test_the_config_says_whether_an_admin_branded_the_widget_and_a_reset_forgets_it(
    admin: TestClient,
) -> None:
    anonymous = TestClient(admin.app)
    assert anonymous.get("/api/widget/config").json()["branded"] is False
    admin.put("/api/admin/widget", json=BROWN)
    assert anonymous.get("/api/widget/config").json()["branded"] is True
    reset = admin.delete("/api/admin/widget")
    assert reset.status_code == 200 and reset.json()["name"]["zh"] == "好日子客服中心"
    config = anonymous.get("/api/widget/config").json()
    assert config["branded"] is False and config["branding"]["primary_colour"] == "#0b5cad"
    audit = admin.get("/api/admin/audit", params={"action": "widget_reset"}).json()["entries"]
    assert [e["actor"] for e in audit] == ["boss"]


def test_bad_branding_is_refused_and_loses_nothing(admin: TestClient) -> None:
    admin.put("/api/admin/widget", json=BROWN)
    for change, code in (
        ({"primary_colour": "red"}, "invalid_colour"),
        ({"primary_colour": "#12345"}, "invalid_colour"),
        ({"logo_url": "javascript:alert(1)"}, "invalid_logo_url"),
        ({"logo_url": 'https://x.example/a"onerror="x'}, "invalid_logo_url"),
        ({"name": {"zh": "a\u0000", "en": "b"}}, "nul_character"),
    ):
        refused = admin.put("/api/admin/widget", json={**BROWN, **change})
        assert refused.status_code == 400, (change, refused.text)
        assert refused.json()["code"] == code
    bad_side = admin.put("/api/admin/widget", json={**BROWN, "position": "top"})
    assert bad_side.status_code == 422
    assert admin.get("/api/admin/widget").json()["name"]["zh"] == "咖啡小舖"
