"""Who may see a conversation, over the real app: the customer's token on every customer route,
signed customer ids, requests forged from a sibling origin, the metered search endpoints."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text
from starlette.websockets import WebSocketDisconnect

from bot.access.customer import sign_customer_id
from bot.app import create_app
from bot.conversation.sql import SqlConversationStore
from bot.services import Services
from bot.settings import AccessSettings
from tests.bot.api.conftest import (
    ADMIN_PASSWORD,
    ANSWERED,
    REFUSED,
    SHOP_SECRET,
    next_event,
    send,
    services_over,
    signed,
    start,
)
from tests.customer_tokens import as_customer

PASSWORD = "correct horse battery"
SIBLING = "http://testserver:8001"  # another port of the same host: same site, other origin
OWN = "http://testserver"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def anonymous(services: Services) -> Iterator[TestClient]:
    """A client that sends no customer token of its own accord."""
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def mei(services: Services) -> Iterator[TestClient]:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(services)) as client:
        response = client.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


# ---- the customer token -------------------------------------------------------------------


def customer_routes(conversation: str, turn_seq: int) -> list[tuple[str, str, Any]]:
    base = f"/api/conversations/{conversation}"
    return [
        ("get", base, None),
        ("get", f"{base}?after=1", None),
        ("post", f"{base}/messages", {"text": ANSWERED}),
        ("post", f"{base}/feedback", {"helpful": True, "turn_seq": turn_seq}),
        ("post", f"{base}/survey", {"csat": 5, "ces": 7}),
        ("post", f"{base}/handoff", None),
        ("get", f"{base}/copy", None),
    ]


def call(client: TestClient, method: str, url: str, body: Any, **kw: Any) -> Any:
    if body is None:
        return getattr(client, method)(url, **kw)
    return getattr(client, method)(url, json=body, **kw)


def test_every_customer_route_answers_404_without_the_token(
    anonymous: TestClient, services: Services
) -> None:
    started = anonymous.post("/api/conversations", json={"channel": "web"})
    assert started.status_code == 201
    conversation, token = started.json()["id"], started.json()["customer_token"]
    assert len(token) >= 40
    other = anonymous.post("/api/conversations").json()["customer_token"]
    turn = anonymous.post(
        f"/api/conversations/{conversation}/messages",
        json={"text": ANSWERED},
        headers=bearer(token),
    )
    assert turn.status_code == 200, turn.text
    seq = turn.json()["turn_seq"]

    wrong = [{}, bearer("not-the-token"), bearer(other), {"Authorization": token}]
    for method, url, body in customer_routes(conversation, seq):
        for headers in wrong:
            refused = call(anonymous, method, url, body, headers=headers)
            assert refused.status_code == 404, (method, url, headers, refused.text)
            assert refused.json()["code"] == "conversation_not_found"
    # nothing the refused calls sent reached the log
    log = anonymous.get(f"/api/conversations/{conversation}", headers=bearer(token))
    assert [e["kind"] for e in log.json()["events"]] == [
        "conversation_started",
        "customer_messaged",
        "turn_answered",
    ]
    # the holder of the token reaches every route (the survey opens only once resolved: 409)
    codes = {
        url.rsplit("/", 1)[-1]: call(anonymous, method, url, body, headers=bearer(token))
        for method, url, body in customer_routes(conversation, seq)
    }
    assert {k: r.status_code for k, r in codes.items()} == {
        conversation: 200,
        f"{conversation}?after=1": 200,
        "messages": 200,
        "feedback": 201,
        "survey": 409,
        "handoff": 200,
        "copy": 200,
    }


def test_the_stream_needs_the_token_as_a_query_parameter(anonymous: TestClient) -> None:
    started = anonymous.post("/api/conversations").json()
    conversation, token = started["id"], started["customer_token"]
    for query in ("", "?token=wrong", "?after=0&token="):
        with anonymous.websocket_connect(f"/api/conversations/{conversation}/events{query}") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4404
    with anonymous.websocket_connect(
        f"/api/conversations/{conversation}/events?token={token}"
    ) as ws:
        assert next_event(ws)["kind"] == "conversation_started"


def test_only_the_tokens_digest_is_stored(anonymous: TestClient, services: Services) -> None:
    token = anonymous.post("/api/conversations").json()["customer_token"]
    store = services.store
    assert isinstance(store, SqlConversationStore)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM conversations")).all()
        logged = conn.execute(text("SELECT payload FROM events")).all()
    assert token not in repr(rows) and token not in repr(logged)


def test_agents_read_the_conversation_with_their_session_not_the_token(
    client: TestClient, mei: TestClient
) -> None:
    conversation = start(client)
    send(client, conversation, REFUSED)
    assert client.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    assert mei.get(f"/api/conversations/{conversation}").status_code == 404
    assert mei.get(f"/api/agent/conversations/{conversation}").status_code == 200
    assert mei.post(f"/api/agent/conversations/{conversation}/claim").status_code == 200
    reply = mei.post(f"/api/agent/conversations/{conversation}/messages", json={"text": "您好"})
    assert reply.status_code == 201, reply.text
    kinds = [e["kind"] for e in client.get(f"/api/conversations/{conversation}").json()["events"]]
    assert kinds[-1] == "agent_replied"


# ---- customer ids taken on trust ----------------------------------------------------------


def test_an_unsigned_customer_id_never_shows_another_customers_history(
    client: TestClient, mei: TestClient
) -> None:
    # Alice, signed in on the shop's site, asked about her parcel
    alice = start(client, **signed("alice@example.com"))
    send(client, alice, "我的包裹寄到台北市信義路五段 7 號了嗎？")
    # a stranger claims to be Alice without the shop's signature, and asks for a person
    stranger = client.post("/api/conversations", json={"customer_id": "alice@example.com"})
    assert stranger.status_code == 201
    assert (stranger.json()["customer_id"], stranger.json()["customer_hint"]) == (
        None,
        "alice@example.com",
    )
    conversation = stranger.json()["id"]
    send(client, conversation, REFUSED)
    assert client.post(f"/api/conversations/{conversation}/handoff").status_code == 200

    view = mei.get(f"/api/agent/conversations/{conversation}").json()
    customer = view["packet"]["customer"]
    assert customer["customer_id"] is None
    assert customer["earlier_conversations"] == []
    assert "信義路" not in str(view)
    entry = next(e for e in mei.get("/api/agent/queue").json()["conversations"])
    assert (entry["customer_id"], entry["customer_hint"]) == (None, "alice@example.com")

    # Alice herself, signed, is joined to her earlier conversation
    again = start(client, **signed("alice@example.com"))
    send(client, again, REFUSED)
    assert client.post(f"/api/conversations/{again}/handoff").status_code == 200
    hers = mei.get(f"/api/agent/conversations/{again}").json()["packet"]["customer"]
    assert hers["customer_id"] == "alice@example.com"
    assert [c["id"] for c in hers["earlier_conversations"]] == [alice]


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "alice@example.com", "customer_id_signature": "00" * 32},
        # signed for someone else
        {
            "customer_id": "alice@example.com",
            "customer_id_signature": sign_customer_id("bob@example.com", SHOP_SECRET),
        },
        # signed with another secret
        {
            "customer_id": "alice@example.com",
            "customer_id_signature": sign_customer_id("alice@example.com", "guessed"),
        },
        {"customer_id_signature": sign_customer_id("", SHOP_SECRET)},
    ],
)
def test_a_forged_signature_is_refused_and_starts_nothing(
    client: TestClient, services: Services, body: dict[str, str]
) -> None:
    refused = client.post("/api/conversations", json=body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "customer_signature_invalid"
    assert set(refused.json()["messages"]) == {"zh", "en"}
    assert services.store.conversations() == []


def test_without_a_secret_a_signature_cannot_verify(demo_data_dir: Any, tmp_path: Any) -> None:
    for built in services_over(demo_data_dir, tmp_path, AccessSettings()):
        with TestClient(create_app(built)) as client:
            refused = client.post("/api/conversations", json=signed("alice@example.com"))
            assert refused.status_code == 403
            hint = client.post("/api/conversations", json={"customer_id": "alice@example.com"})
            assert hint.json()["customer_hint"] == "alice@example.com"


# ---- same-site request forgery ------------------------------------------------------------


def workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(("問題", "答案"))
    sheet.append(("可以寄到離島嗎？", "可以，運費另計。"))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_upload_from_a_sibling_origin_is_refused(admin: TestClient, services: Services) -> None:
    before = {r.name for r in services.kb.catalog.sources()}
    for headers in ({"Origin": SIBLING}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        forged = admin.post(
            "/api/admin/sources", files={"file": ("forged.xlsx", workbook())}, headers=headers
        )
        assert forged.status_code == 403, forged.text
        assert forged.json()["code"] == "cross_site_request"
        assert set(forged.json()["messages"]) == {"zh", "en"}
    assert {r.name for r in services.kb.catalog.sources()} == before
    assert not (services.settings.data_dir / "forged.xlsx").exists()
    own = admin.post(
        "/api/admin/sources",
        files={"file": ("own.xlsx", workbook())},
        headers={"Origin": OWN, "Sec-Fetch-Site": "same-origin"},
    )
    assert own.status_code == 202, own.text


def test_a_claim_from_a_sibling_origin_is_refused(client: TestClient, mei: TestClient) -> None:
    conversation = start(client)
    send(client, conversation, REFUSED)
    assert client.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    claim = f"/api/agent/conversations/{conversation}/claim"
    forged = mei.post(claim, headers={"Origin": SIBLING})
    assert forged.status_code == 403 and forged.json()["code"] == "cross_site_request"
    assert client.get(f"/api/conversations/{conversation}").json()["conversation"]["status"] == (
        "waiting"
    )
    assert mei.post(claim, headers={"Origin": OWN}).status_code == 200


def test_the_agents_websocket_refuses_a_sibling_origin(mei: TestClient) -> None:
    with mei.websocket_connect("/api/agent/queue/events", headers={"Origin": SIBLING}) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert (closed.value.code, closed.value.reason) == (4403, "cross_site_request")
    with mei.websocket_connect("/api/agent/queue/events", headers={"Origin": OWN}) as ws:
        assert next_event(ws)["kind"] == "queue"


def test_origins_named_in_settings_may_act(demo_data_dir: Any, tmp_path: Any) -> None:
    access = AccessSettings(customer_id_secret=SHOP_SECRET, allowed_origins=[SIBLING])
    for built in services_over(demo_data_dir, tmp_path, access):
        built.accounts.add("boss", ADMIN_PASSWORD, "admin", "店長")
        with TestClient(create_app(built)) as client:
            login = {"username": "boss", "password": ADMIN_PASSWORD}
            assert client.post("/api/auth/login", json=login).status_code == 200
            named = client.post("/api/admin/drafts", json={"question": "q?", "answer": "a"})
            assert named.status_code == 201
            allowed = client.post(
                "/api/admin/drafts",
                json={"question": "q?", "answer": "a"},
                headers={"Origin": SIBLING},
            )
            assert allowed.status_code == 201, allowed.text
            other = client.post(
                "/api/admin/drafts",
                json={"question": "q?", "answer": "a"},
                headers={"Origin": "http://testserver:9000"},
            )
            assert other.status_code == 403


def test_customers_without_a_session_are_not_checked(client: TestClient) -> None:
    """The widget on a shop's own site calls across origins with no cookie: nothing to forge."""
    started = client.post("/api/conversations", headers={"Origin": "https://shop.example.tw"})
    assert started.status_code == 201


# ---- metered search -----------------------------------------------------------------------


@pytest.fixture
def metered(demo_data_dir: Any, tmp_path: Any) -> Iterator[TestClient]:
    access = AccessSettings(search_rate_limit="3/minute")
    for built in services_over(demo_data_dir, tmp_path, access):
        with as_customer(TestClient(create_app(built))) as client:
            yield client


def test_search_and_sources_share_a_metered_budget(metered: TestClient) -> None:
    assert metered.get("/api/search", params={"q": ANSWERED}).status_code == 200
    assert metered.get("/api/sources").status_code == 200
    assert metered.get("/api/search", params={"q": ANSWERED}).status_code == 200
    limited = metered.get("/api/search", params={"q": ANSWERED})
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert metered.get("/api/sources").status_code == 429
    # the customer endpoints keep a budget of their own
    assert metered.post("/api/conversations").status_code == 201


def test_anonymous_callers_see_nothing_about_the_server_in_sources(
    client: TestClient, admin: TestClient, demo_data_dir: Any
) -> None:
    anonymous = client.get("/api/sources").json()
    assert anonymous["count"] == len(anonymous["data"]) > 0
    for source in anonymous["data"]:
        assert set(source) == {"name", "status", "items"}
    assert str(demo_data_dir.parent) not in str(anonymous)
    assert "/" not in str([s["name"] for s in anonymous["data"]])
    staff = admin.get("/api/sources").json()
    assert {"origin", "fingerprint"} <= set(staff["data"][0])
