"""The agents' API over the real app: log in, the queue, claim, reply, notes, resolve, the
survey, the packet, canned replies and drafts, and what customers must never see."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.access.ratelimit import RateLimiter
from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import (
    ANSWERED,
    REFUSED,
    events,
    faq_row,
    next_event,
    send,
    signed,
    start,
)
from tests.customer_tokens import as_customer

PASSWORD = "correct horse battery"


@pytest.fixture
def agents(services: Services) -> Services:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    services.accounts.add("tom", PASSWORD, "agent", "Tom")
    services.accounts.add("boss", PASSWORD, "admin", "店長")
    return services


def logged_in(services: Services, username: str) -> Iterator[TestClient]:
    with as_customer(TestClient(create_app(services))) as client:
        response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture
def mei(agents: Services) -> Iterator[TestClient]:
    yield from logged_in(agents, "mei")


@pytest.fixture
def tom(agents: Services) -> Iterator[TestClient]:
    yield from logged_in(agents, "tom")


def waiting(client: TestClient) -> str:
    """A conversation whose customer asked for a person after a refusal."""
    conversation = start(client, **signed("cust-42"))
    assert send(client, conversation, REFUSED)["status"] == "refused"
    response = client.post(f"/api/conversations/{conversation}/handoff")
    assert response.status_code == 200, response.text
    return conversation


def claim(client: TestClient, conversation: str) -> Any:
    return client.post(f"/api/agent/conversations/{conversation}/claim")


def test_agent_endpoints_refuse_anonymous_callers(client: TestClient) -> None:
    conversation = waiting(client)
    for method, path in [
        ("get", "/api/agent/queue"),
        ("get", f"/api/agent/conversations/{conversation}"),
        ("post", f"/api/agent/conversations/{conversation}/claim"),
        ("get", "/api/agent/suggestions?q=退貨"),
        ("get", "/api/auth/me"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_logged_in"
        assert response.json()["messages"]["zh"]


def test_wrong_password_and_expired_session(agents: Services, client: TestClient) -> None:
    bad = client.post("/api/auth/login", json={"username": "mei", "password": "nope nope nope"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
    unknown = client.post("/api/auth/login", json={"username": "ghost", "password": PASSWORD})
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_credentials"

    ok = client.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.json()["role"] == "agent"
    cookie = ok.cookies.get("kefu_session") or client.cookies.get("kefu_session")
    assert cookie and "httponly" in ok.headers["set-cookie"].lower()
    assert client.get("/api/agent/queue").status_code == 200

    agents.accounts.expire(cookie)
    expired = client.get("/api/agent/queue")
    assert expired.status_code == 401 and expired.json()["code"] == "session_expired"
    assert client.post("/api/auth/login", json={"username": "mei", "password": PASSWORD}).is_success
    client.post("/api/auth/logout")
    assert client.get("/api/agent/queue").json()["code"] == "not_logged_in"


def test_queue_position_claim_reply_resolve_and_survey(
    client: TestClient, mei: TestClient, tom: TestClient
) -> None:
    first, second = waiting(client), waiting(client)
    assert client.get(f"/api/conversations/{second}").json()["conversation"]["queue_position"] == 2

    queue = mei.get("/api/agent/queue").json()["conversations"]
    assert [e["id"] for e in queue] == [first, second]
    assert [e["queue_position"] for e in queue] == [1, 2]
    assert queue[0]["trigger"] == "customer_request"
    assert queue[0]["last_message"] == REFUSED

    assert claim(mei, first).status_code == 200
    lost = claim(tom, first)
    assert lost.status_code == 409
    assert lost.json()["code"] == "status_conflict"
    assert lost.json()["details"]["agent_name"] == "美玲"
    assert "美玲" in lost.json()["messages"]["zh"]
    # the second customer moves up
    assert client.get(f"/api/conversations/{second}").json()["conversation"]["queue_position"] == 1

    not_mine = tom.post(f"/api/agent/conversations/{first}/messages", json={"text": "hi"})
    assert not_mine.status_code == 403 and not_mine.json()["code"] == "not_assignee"
    reply = mei.post(f"/api/agent/conversations/{first}/messages", json={"text": "您好，我來幫您"})
    assert reply.status_code == 201
    note = tom.post(f"/api/agent/conversations/{first}/notes", json={"text": "VIP 客戶"})
    assert note.status_code == 201

    # the bot stays silent while the agent owns it
    assert send(client, first, ANSWERED)["status"] == "delivered"

    seen = events(client, first)
    kinds = [e["kind"] for e in seen]
    assert "agent_replied" in kinds and "agent_noted" not in kinds
    replied = next(e for e in seen if e["kind"] == "agent_replied")
    assert replied["data"] == {"text": "您好，我來幫您", "agent_name": "美玲"}
    joined = [e for e in seen if e["kind"] == "status_changed"][-1]
    assert joined["data"]["to_status"] == "with_agent"
    assert joined["data"]["agent_name"] == "美玲" and joined["data"]["actor"] == "agent"
    assert all("details" not in e["data"] for e in seen)
    agent_view = mei.get(f"/api/agent/conversations/{first}").json()
    assert "agent_noted" in [e["kind"] for e in agent_view["events"]]

    early = client.post(f"/api/conversations/{first}/survey", json={"csat": 5, "ces": 6})
    assert early.status_code == 409 and early.json()["code"] == "survey_not_open"
    assert mei.post(f"/api/agent/conversations/{first}/resolve").json()["status"] == "resolved"
    out_of_range = client.post(f"/api/conversations/{first}/survey", json={"csat": 6, "ces": 8})
    assert out_of_range.status_code == 422
    answered = client.post(
        f"/api/conversations/{first}/survey", json={"csat": 4, "ces": 6, "comment": "快"}
    )
    assert answered.status_code == 201
    assert answered.json()["data"] == {"csat": 4, "ces": 6, "comment": "快"}
    again = client.post(f"/api/conversations/{first}/survey", json={"csat": 1, "ces": 1})
    assert again.status_code == 409 and again.json()["code"] == "survey_already_answered"

    resolved_claim = claim(tom, first)
    assert resolved_claim.status_code == 409
    assert resolved_claim.json()["code"] == "invalid_transition"


def test_return_to_bot_lets_the_bot_answer_again(client: TestClient, mei: TestClient) -> None:
    conversation = waiting(client)
    claim(mei, conversation)
    back = mei.post(f"/api/agent/conversations/{conversation}/return-to-bot")
    assert back.status_code == 200 and back.json()["status"] == "bot"
    assert send(client, conversation, ANSWERED)["status"] == "answered"


def race_to_claim(conversation: str, *agents: TestClient) -> list[int]:
    """Every agent claims the conversation at the same moment; their status codes."""
    barrier = threading.Barrier(len(agents))
    codes: list[int] = []

    def grab(agent: TestClient) -> None:
        barrier.wait()
        codes.append(claim(agent, conversation).status_code)

    threads = [threading.Thread(target=grab, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_two_agents_claiming_at_once_one_wins(
    client: TestClient, mei: TestClient, tom: TestClient
) -> None:
    for _ in range(5):
        assert sorted(race_to_claim(waiting(client), mei, tom)) == [200, 409]


def test_packet_has_the_story(client: TestClient, mei: TestClient) -> None:
    earlier = start(client, **signed("cust-42"))
    send(client, earlier, "運費怎麼算？")
    conversation = waiting(client)
    packet = mei.get(f"/api/agent/conversations/{conversation}").json()["packet"]
    assert packet["trigger"] == "customer_request"
    assert packet["question"] == REFUSED
    assert packet["customer"]["customer_id"] == "cust-42"
    assert [c["first_message"] for c in packet["customer"]["earlier_conversations"]] == [
        "運費怎麼算？"
    ]
    assert packet["retrieved"], "the passages the bot looked at"
    assert all("score" in r and r["source"] for r in packet["retrieved"])


def test_suggestions_and_drafts(client: TestClient, mei: TestClient, agents: Services) -> None:
    hits = mei.get("/api/agent/suggestions", params={"q": ANSWERED}).json()["hits"]
    assert hits and hits[0]["question"] == ANSWERED and hits[0]["answer"]

    conversation = waiting(client)
    saved = mei.post(
        "/api/agent/drafts",
        json={"conversation_id": conversation, "question": REFUSED, "answer": "請看氣象局網站"},
    )
    assert saved.status_code == 201 and saved.json()["status"] == "pending"
    assert [d.question for d in agents.drafts.list()] == [REFUSED]
    kinds = [
        e["kind"] for e in mei.get(f"/api/agent/conversations/{conversation}").json()["events"]
    ]
    assert "knowledge_draft_saved" in kinds
    assert "knowledge_draft_saved" not in [e["kind"] for e in events(client, conversation)]
    empty = mei.post("/api/agent/drafts", json={"question": " ", "answer": "x"})
    assert empty.status_code == 400 and empty.json()["code"] == "empty_draft"


def test_customer_stream_gets_agent_reply_and_typing_but_no_notes(
    client: TestClient, mei: TestClient
) -> None:
    conversation = waiting(client)
    seen = len(events(client, conversation))
    with client.websocket_connect(
        f"/api/conversations/{conversation}/events?after={seen}"
    ) as customer:
        assert next_event(customer)["kind"] == "queue_position"
        claim(mei, conversation)
        joined = next_event(customer)
        assert joined["kind"] == "status_changed" and joined["data"]["agent_name"] == "美玲"
        mei.post(f"/api/agent/conversations/{conversation}/notes", json={"text": "secret"})
        mei.post(f"/api/agent/conversations/{conversation}/typing")
        typing = next_event(customer)
        assert typing == {"kind": "typing", "data": {"role": "agent", "name": "美玲"}}
        mei.post(f"/api/agent/conversations/{conversation}/messages", json={"text": "在的"})
        reply = next_event(customer)
        assert reply["kind"] == "agent_replied" and reply["data"]["text"] == "在的"


def test_agent_streams_need_a_session(client: TestClient, mei: TestClient) -> None:
    conversation = waiting(client)
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/api/agent/queue/events") as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 4401
    with mei.websocket_connect("/api/agent/queue/events") as ws:
        first = next_event(ws)
        assert first["kind"] == "queue"
        assert conversation in [c["id"] for c in first["data"]["conversations"]]
        claim(mei, conversation)
        changed = next_event(ws)
        entry = next(c for c in changed["data"]["conversations"] if c["id"] == conversation)
        assert entry["status"] == "with_agent" and entry["agent"] == "mei"


def test_customer_endpoints_are_rate_limited(services: Services) -> None:
    services = replace(
        services, limits=replace(services.limits, per_conversation=RateLimiter("3/minute"))
    )
    with as_customer(TestClient(create_app(services))) as client:
        conversation = start(client)
        codes = [
            client.post(
                f"/api/conversations/{conversation}/messages", json={"text": ANSWERED}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = client.post(f"/api/conversations/{conversation}/messages", json={"text": "hi"})
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert "秒" in limited.json()["messages"]["zh"]
        # another conversation has its own budget
        assert send(client, start(client), ANSWERED)["status"] == "answered"


def test_a_dropped_stream_gets_exactly_what_it_missed(client: TestClient, mei: TestClient) -> None:
    conversation = waiting(client)
    claim(mei, conversation)
    with client.websocket_connect(f"/api/conversations/{conversation}/events") as customer:
        seen = [next_event(customer) for _ in range(len(events(client, conversation)))]
    last = max(e["seq"] for e in seen if "seq" in e)
    # while the customer is away: two replies and a private note
    for text in ("第一則", "第二則"):
        mei.post(f"/api/agent/conversations/{conversation}/messages", json={"text": text})
    mei.post(f"/api/agent/conversations/{conversation}/notes", json={"text": "secret"})
    with client.websocket_connect(
        f"/api/conversations/{conversation}/events?after={last}"
    ) as customer:
        missed = [next_event(customer), next_event(customer)]
    assert [(e["kind"], e["data"]["text"]) for e in missed] == [
        ("agent_replied", "第一則"),
        ("agent_replied", "第二則"),
    ]
    assert [e["seq"] for e in missed] == [last + 1, last + 2]


def test_the_widget_may_be_embedded_by_the_sites_named_in_settings(services: Services) -> None:
    settings = services.settings.model_copy(
        update={
            "access": services.settings.access.model_copy(
                update={"widget_origins": ["https://shop.example.tw"]}
            )
        }
    )
    with as_customer(TestClient(create_app(replace(services, settings=settings)))) as client:
        allowed = client.options(
            "/api/conversations",
            headers={
                "origin": "https://shop.example.tw",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.tw"
        assert "access-control-allow-credentials" not in allowed.headers
        other = client.post("/api/conversations", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with as_customer(TestClient(create_app(services))) as client:
        plain = client.post("/api/conversations", headers={"origin": "https://shop.example.tw"})
        assert "access-control-allow-origin" not in plain.headers


def test_tags_show_in_the_queue_and_the_packet(client: TestClient, mei: TestClient) -> None:
    earlier = start(client, **signed("cust-42"))
    send(client, earlier, ANSWERED)  # a returns question: its sheet is a tag
    conversation = waiting(client)
    entry = next(
        e for e in mei.get("/api/agent/queue").json()["conversations"] if e["id"] == conversation
    )
    assert isinstance(entry["tags"], list)
    customer = mei.get(f"/api/agent/conversations/{conversation}").json()["packet"]["customer"]
    assert "退換貨" in customer["tags"]
    assert "退換貨" not in customer["conversation_tags"]


def test_agents_keep_the_file_sheet_and_row_the_customer_does_not_see(
    client: TestClient, mei: TestClient
) -> None:
    conversation = start(client)
    customer_turn = send(client, conversation, ANSWERED)
    assert customer_turn["citations"][0]["label"] == ANSWERED
    row, _ = faq_row("退換貨", ANSWERED)
    agent_view = mei.get(f"/api/agent/conversations/{conversation}").json()
    answered = next(e for e in agent_view["events"] if e["kind"] == "turn_answered")
    (cited,) = answered["data"]["citations"]
    assert (cited["source"], cited["locator"]) == ("shop_faq.xlsx", f"sheet=退換貨;row={row}")
    assert cited["label"] == f"shop_faq.xlsx · 退換貨 · 第 {row} 列"
    assert cited["title"] == ANSWERED and ANSWERED in cited["snippet"]
