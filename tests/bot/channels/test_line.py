"""LINE through the real app: signed webhooks in, the fake LINE platform checking and recording
every reply, push and profile call kefu makes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.channels.records import ChannelRecords
from bot.conversation.events import CustomerMessaged, SurveyAnswered
from bot.conversation.status import ConversationStatus
from bot.services import Services, build_services
from bot.settings import Settings
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import ANSWERED, REFUSED, faq_row
from tests.bot.channels.conftest import (
    line_body,
    line_event,
    line_postback,
    line_text,
    post_line,
)
from tests.bot.channels.platforms import FakeLine

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
PASSWORD = "correct horse battery"


def conversation_of(services: Services, user: str = "U1"):
    [conversation] = services.store.conversations(customer_id=f"line:{user}")
    return conversation


def customer_texts(services: Services, conversation_id: str) -> list[str]:
    return [
        r.event.text
        for r in services.store.events(conversation_id)
        if isinstance(r.event, CustomerMessaged)
    ]


@pytest.fixture
def mei(services: Services) -> Iterator[TestClient]:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(services)) as agent:
        response = agent.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield agent


def test_a_question_is_answered_with_the_reply_token(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    fake_line.profiles["U1"] = {"displayName": "王小明", "language": "zh-TW"}
    event = line_text(ANSWERED, reply_token="token-1")
    started = time.monotonic()
    response = post_line(client, line_body(event))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1}
    assert time.monotonic() - started < 2.0  # answered before the bot has to think

    [reply] = fake_line.wait_for(REPLY)
    assert reply.status == 200 and reply.body["replyToken"] == "token-1"
    [text] = fake_line.texts(reply)
    _, answer = faq_row("退換貨", ANSWERED)
    assert answer.splitlines()[0] in text
    assert "資料來源：" in text and ANSWERED in text  # the FAQ's question, not a file name
    assert ".xlsx" not in text
    assert [a["label"] for a in fake_line.quick_replies(reply)] == ["轉接真人客服"]
    fake_line.settle()
    assert fake_line.calls_to(PUSH) == [] and fake_line.problems == []

    conversation = conversation_of(services)
    assert conversation.channel == "line" and conversation.language == "zh"
    assert customer_texts(services, conversation.id) == [ANSWERED]
    contact = ChannelRecords(services.store.engine).contact("line", "U1")  # type: ignore[attr-defined]
    assert contact is not None and contact.display_name == "王小明"


def test_one_conversation_per_customer_while_it_is_open(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    post_line(client, line_body(line_text(ANSWERED)))
    fake_line.wait_for(REPLY, 1)
    post_line(client, line_body(line_text(REFUSED)))
    fake_line.wait_for(REPLY, 2)
    post_line(client, line_body(line_text(REFUSED, user="U2")))
    fake_line.wait_for(REPLY, 3)
    conversation = conversation_of(services, "U1")
    assert customer_texts(services, conversation.id) == [ANSWERED, REFUSED]
    assert customer_texts(services, conversation_of(services, "U2").id) == [REFUSED]


def test_a_bad_or_missing_signature_is_refused_and_nothing_happens(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    body = line_body(line_text(ANSWERED))
    wrong = post_line(client, body, signature="c2lnbmF0dXJlIG9mIHNvbWVvbmUgZWxzZQ==")
    missing = post_line(client, body, signature=None)
    tampered = post_line(client, body.replace("退貨".encode(), "換貨".encode()), signature=None)
    for response in (wrong, missing, tampered):
        assert response.status_code == 401
        assert response.json()["code"] == "bad_signature"
    not_json = post_line(client, b"{not json", signature="sign")
    assert not_json.status_code == 400 and not_json.json()["code"] == "invalid_webhook"
    fake_line.settle()
    assert fake_line.calls == []
    assert services.store.conversations() == []


def test_a_redelivered_event_is_handled_once_also_after_a_restart(
    client: TestClient, services: Services, settings: Settings, fake_line: FakeLine
) -> None:
    event = line_text(ANSWERED, event_id="01HREDELIVERED0000000000AA")
    assert post_line(client, line_body(event)).json() == {"accepted": 1}
    fake_line.wait_for(REPLY)
    again = dict(event, deliveryContext={"isRedelivery": True}, replyToken="token-again")
    assert post_line(client, line_body(again)).json() == {"accepted": 0}

    # a restarted kefu over the same database still knows the event
    restarted = build_services(settings, embedders=[HashingEmbedder("e5")])
    try:
        with TestClient(create_app(restarted)) as other:
            assert post_line(other, line_body(again)).json() == {"accepted": 0}
    finally:
        restarted.close()
    fake_line.settle()
    assert len(fake_line.calls_to(REPLY)) == 1
    assert customer_texts(services, conversation_of(services).id) == [ANSWERED]


def test_an_expired_reply_token_falls_back_to_push(client: TestClient, fake_line: FakeLine) -> None:
    fake_line.expired.add("stale-token")
    post_line(client, line_body(line_text(ANSWERED, reply_token="stale-token")))
    [push] = fake_line.wait_for(PUSH)
    assert push.status == 200 and push.body["to"] == "U1"
    assert "資料來源：" in fake_line.texts(push)[0]
    [refused_reply] = fake_line.calls_to(REPLY)
    assert refused_reply.status == 400  # tried first: a reply is free


def test_an_old_event_goes_by_push_without_trying_its_token(
    client: TestClient, fake_line: FakeLine
) -> None:
    post_line(client, line_body(line_text(ANSWERED, age_s=300)))
    [push] = fake_line.wait_for(PUSH)
    assert push.body["to"] == "U1"
    fake_line.settle()
    assert fake_line.calls_to(REPLY) == []


def test_a_sticker_gets_a_polite_answer_and_starts_nothing(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    sticker = {"id": "1", "type": "sticker", "packageId": "446", "stickerId": "1988"}
    location = {"id": "2", "type": "location", "latitude": 25.03, "longitude": 121.56}
    post_line(client, line_body(line_event("message", message=sticker)))
    [reply] = fake_line.wait_for(REPLY)
    [text] = fake_line.texts(reply)
    assert "貼圖" in text and "文字" in text
    assert [a["label"] for a in fake_line.quick_replies(reply)] == ["轉接真人客服"]
    post_line(client, line_body(line_event("message", user="U9", message=location)))
    replies = fake_line.wait_for(REPLY, 2)
    assert "位置資訊" in fake_line.texts(replies[1])[0]
    assert services.store.conversations() == []


def test_follow_is_greeted_and_unfollow_recorded(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    fake_line.profiles["U5"] = {"displayName": "Amy", "language": "en"}
    post_line(client, line_body(line_event("follow", user="U5")))
    [reply] = fake_line.wait_for(REPLY)
    assert fake_line.texts(reply) == [
        "Hello! I'm the virtual assistant. Please type your question."
    ]
    post_line(client, line_body(line_event("unfollow", user="U5")))
    records = ChannelRecords(services.store.engine)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while (contact := records.contact("line", "U5")) is None or contact.following is not False:
        assert time.monotonic() < deadline, "the unfollow was not recorded"
        time.sleep(0.05)
    assert contact.display_name == "Amy" and contact.language == "en"


def test_handoff_an_agents_reply_pushed_and_the_survey_by_quick_reply(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    post_line(client, line_body(line_text(REFUSED, reply_token="t1")))
    [refused] = fake_line.wait_for(REPLY)
    [talk] = fake_line.quick_replies(refused)
    assert talk == {
        "type": "postback",
        "label": "轉接真人客服",
        "data": "kefu:handoff",
        "displayText": "轉接真人客服",
    }
    post_line(client, line_body(line_postback(talk["data"], reply_token="t2")))
    handed = fake_line.wait_for(REPLY, 2)[1]
    assert handed.body["replyToken"] == "t2"
    [text] = fake_line.texts(handed)
    assert "已為您轉接真人客服" in text and "目前排第 1 位" in text
    assert [a["label"] for a in fake_line.quick_replies(handed)] == ["返回客服小幫手"]

    [entry] = mei.get("/api/agent/queue").json()["conversations"]
    assert entry["channel"] == "line" and entry["customer_id"] == "line:U1"
    conversation = conversation_of(services)
    assert mei.post(f"/api/agent/conversations/{conversation.id}/claim").status_code == 200
    response = mei.post(
        f"/api/agent/conversations/{conversation.id}/messages",
        json={"text": "您好，我是美玲，我來幫您查。"},
    )
    assert response.status_code in (200, 201), response.text
    [push] = fake_line.wait_for(PUSH)
    assert push.body["to"] == "U1"
    assert fake_line.texts(push) == ["專人 美玲：\n您好，我是美玲，我來幫您查。"]

    # while an agent has it, the customer's words go to the agent and the bot stays silent
    post_line(client, line_body(line_text("好的謝謝", reply_token="t3")))
    deadline = time.monotonic() + 10
    while "好的謝謝" not in customer_texts(services, conversation.id):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    fake_line.settle()
    assert len(fake_line.calls_to(REPLY)) == 2

    assert mei.post(f"/api/agent/conversations/{conversation.id}/resolve").status_code == 200
    pushes = fake_line.wait_for(PUSH, 2)
    resolved, csat = fake_line.texts(pushes[1])
    assert "專人已結束這次對話" in resolved and "滿意" in csat
    buttons = fake_line.quick_replies(pushes[1])
    assert [b["label"] for b in buttons] == ["1", "2", "3", "4", "5"]

    post_line(client, line_body(line_postback(buttons[3]["data"], reply_token="t4")))
    ces = fake_line.wait_for(REPLY, 3)[2]
    assert "容易" in fake_line.texts(ces)[0]
    ces_buttons = fake_line.quick_replies(ces)
    assert len(ces_buttons) == 7
    post_line(client, line_body(line_postback(ces_buttons[5]["data"], reply_token="t5")))
    thanks = fake_line.wait_for(REPLY, 4)[3]
    assert fake_line.texts(thanks) == ["感謝您的評分！祝您有美好的一天。"]
    [survey] = [
        r.event
        for r in services.store.events(conversation.id)
        if isinstance(r.event, SurveyAnswered)
    ]
    assert (survey.csat, survey.ces) == (4, 6)
    assert fake_line.problems == []


def test_back_to_the_bot_while_waiting(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    post_line(client, line_body(line_postback("kefu:handoff", reply_token="t1")))
    fake_line.wait_for(REPLY)
    assert conversation_of(services).status == ConversationStatus.WAITING
    post_line(client, line_body(line_postback("kefu:back_to_bot", reply_token="t2")))
    back = fake_line.wait_for(REPLY, 2)[1]
    assert fake_line.texts(back) == ["已回到線上客服小幫手，您可以繼續提問。"]
    assert conversation_of(services).status == ConversationStatus.BOT


def test_quick_replies_speak_the_customers_language(
    client: TestClient, fake_line: FakeLine
) -> None:
    post_line(client, line_body(line_text("What is the weather like in Taipei today?")))
    [english] = fake_line.wait_for(REPLY)
    assert "person" in fake_line.texts(english)[0]
    assert [a["label"] for a in fake_line.quick_replies(english)] == ["Talk to a person"]
    post_line(client, line_body(line_text(REFUSED, user="U2")))
    chinese = fake_line.wait_for(REPLY, 2)[1]
    assert [a["label"] for a in fake_line.quick_replies(chinese)] == ["轉接真人客服"]
    post_line(client, line_body(line_postback("kefu:handoff")))
    handed = fake_line.wait_for(REPLY, 3)[2]
    assert "You are number 1 in the queue" in fake_line.texts(handed)[0]
    assert [a["label"] for a in fake_line.quick_replies(handed)] == ["Back to assistant"]


def test_admins_see_each_channel_and_agents_the_customers_line_name(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    fake_line.profiles["U1"] = {"displayName": "王小明", "language": "zh-TW"}
    post_line(client, line_body(line_text(ANSWERED)))
    fake_line.wait_for(REPLY)
    found = mei.get("/api/agent/channel-contacts/line:U1")
    assert found.status_code == 200, found.text
    assert found.json()["display_name"] == "王小明" and found.json()["following"] is None
    assert mei.get("/api/agent/channel-contacts/line:U404").status_code == 404
    assert client.get("/api/agent/channel-contacts/line:U1").status_code == 401

    assert mei.get("/api/admin/channels").status_code == 403
    services.accounts.add("boss", PASSWORD, "admin", "店長")
    with TestClient(create_app(services)) as admin:
        admin.post("/api/auth/login", json={"username": "boss", "password": PASSWORD})
        states = {c["name"]: c for c in admin.get("/api/admin/channels").json()["channels"]}
    assert states["line"]["enabled"] and states["messenger"]["enabled"]
    assert states["line"]["webhook_url"] == "http://testserver/channels/line/webhook"
    assert states["messenger"]["webhook_url"] == "http://testserver/channels/messenger/webhook"
