"""Messenger through the real app: Meta's subscription check, signed webhooks, and the fake
Graph API checking every Send API call."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.conversation.events import CustomerMessaged
from bot.services import Services
from tests.bot.api.conftest import ANSWERED, REFUSED
from tests.bot.channels.conftest import (
    VERIFY_TOKEN,
    messenger_body,
    messenger_message,
    post_messenger,
)
from tests.bot.channels.platforms import FakeGraph

SEND = "/me/messages"
PASSWORD = "correct horse battery"


def test_the_subscription_check_echoes_the_challenge_only_for_our_token(
    client: TestClient,
) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    ok = client.get("/channels/messenger/webhook", params=params)
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = client.get("/channels/messenger/webhook", params={**params, "hub.verify_token": "x"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "forbidden"


def test_a_bad_signature_is_refused_and_nothing_happens(
    client: TestClient, services: Services, fake_graph: FakeGraph
) -> None:
    body = messenger_body(messenger_message(ANSWERED))
    for signature in (None, "sha256=" + "0" * 64, "sha1=abc"):
        response = post_messenger(client, body, signature=signature)
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"
    fake_graph.settle()
    assert fake_graph.calls == [] and services.store.conversations() == []


def test_a_question_is_answered_through_the_send_api(
    client: TestClient, services: Services, fake_graph: FakeGraph
) -> None:
    response = post_messenger(client, messenger_body(messenger_message(ANSWERED)))
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    [send] = fake_graph.wait_for(SEND)
    assert send.status == 200
    assert send.body["recipient"] == {"id": "PSID1"} and send.body["messaging_type"] == "RESPONSE"
    assert "資料來源：" in send.body["message"]["text"]
    assert send.body["message"]["quick_replies"] == [
        {"content_type": "text", "title": "轉接真人客服", "payload": "kefu:handoff"}
    ]
    [conversation] = services.store.conversations(customer_id="messenger:PSID1")
    assert conversation.channel == "messenger"


def test_a_redelivered_message_is_handled_once(
    client: TestClient, services: Services, fake_graph: FakeGraph
) -> None:
    event = messenger_message(REFUSED, mid="m_same")
    assert post_messenger(client, messenger_body(event)).json() == {"accepted": 1}
    fake_graph.wait_for(SEND)
    assert post_messenger(client, messenger_body(event)).json() == {"accepted": 0}
    fake_graph.settle()
    assert len(fake_graph.calls_to(SEND)) == 1


def test_handoff_by_quick_reply_and_a_long_agent_reply_split(
    client: TestClient, services: Services, fake_graph: FakeGraph
) -> None:
    fake_graph.names["PSID1"] = "Chen Mei"
    post_messenger(client, messenger_body(messenger_message(REFUSED)))
    [refused] = fake_graph.wait_for(SEND)
    payload = refused.body["message"]["quick_replies"][0]["payload"]
    tapped = messenger_message("轉接真人客服", quick_reply={"payload": payload})
    post_messenger(client, messenger_body(tapped))
    handed = fake_graph.wait_for(SEND, 2)[1]
    assert "目前排第 1 位" in handed.body["message"]["text"]
    assert handed.body["message"]["quick_replies"][0]["payload"] == "kefu:back_to_bot"

    [conversation] = services.store.conversations(customer_id="messenger:PSID1")
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(services)) as agent:
        agent.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert agent.post(f"/api/agent/conversations/{conversation.id}/claim").status_code == 200
        long_reply = "。".join(f"第{i}點說明退貨流程與注意事項" for i in range(200))
        assert len(long_reply) > 3000
        sent = agent.post(
            f"/api/agent/conversations/{conversation.id}/messages", json={"text": long_reply}
        )
        assert sent.status_code == 201, sent.text
    calls = fake_graph.wait_for(SEND, 4)
    parts = [c.body["message"]["text"] for c in calls[2:]]
    assert all(len(p) <= 2000 for p in parts)
    assert "".join(parts).replace("\n", "") == ("專人 美玲：" + long_reply).replace("\n", "")
    assert fake_graph.problems == []


def test_a_sticker_gets_a_polite_answer(client: TestClient, fake_graph: FakeGraph) -> None:
    sticker = {
        "sender": {"id": "PSID7"},
        "recipient": {"id": "PAGE1"},
        "timestamp": int(time.time() * 1000),
        "message": {
            "mid": "m_sticker",
            "attachments": [
                {
                    "type": "image",
                    "payload": {"url": "https://x/y.png", "sticker_id": 369239263222822},
                }
            ],
        },
    }
    post_messenger(client, messenger_body(sticker))
    [answer] = fake_graph.wait_for(SEND)
    assert "貼圖" in answer.body["message"]["text"]


def test_echoes_of_the_pages_own_messages_are_ignored(
    client: TestClient, services: Services, fake_graph: FakeGraph
) -> None:
    echo = messenger_message("我們的回覆", is_echo=True)
    assert post_messenger(client, messenger_body(echo)).json() == {"accepted": 0}
    fake_graph.settle()
    assert fake_graph.calls == [] and services.store.conversations() == []


def customer_texts(services: Services, conversation_id: str) -> list[str]:
    return [
        r.event.text
        for r in services.store.events(conversation_id)
        if isinstance(r.event, CustomerMessaged)
    ]
