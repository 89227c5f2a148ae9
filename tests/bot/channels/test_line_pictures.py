"""A picture sent on LINE reaches the agents: downloaded from the (fake) content API into the
customer's conversation, where the console shows it as the widget's; a file LINE gives that is
no picture is refused with the server's words, and a picture LINE does not keep gets the
polite answer. An agent's picture is announced to the LINE customer in words."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.conversation.events import CustomerSentImage
from bot.services import Services
from tests.bot.attachments.pictures import SVG, picture
from tests.bot.channels.conftest import line_body, line_event, line_postback, post_line
from tests.bot.channels.platforms import FakeLine, Raw

REPLY = "/v2/bot/message/reply"
PUSH = "/v2/bot/message/push"
PASSWORD = "correct horse battery"
PHOTO = picture("jpeg", (64, 48))


def line_image(message_id: str, user: str = "U1", provider: str = "line", **fields: object):
    message = {"id": message_id, "type": "image", "contentProvider": {"type": provider}}
    return line_event("message", user, message=message, **fields)


def pictures_of(services: Services, user: str = "U1") -> list[CustomerSentImage]:
    deadline = time.monotonic() + 10
    while True:
        found = services.store.conversations(customer_id=f"line:{user}")
        if found:
            shared = [
                r.event
                for r in services.store.events(found[0].id)
                if isinstance(r.event, CustomerSentImage)
            ]
            if shared:
                return shared
        assert time.monotonic() < deadline, "no picture reached the conversation"
        time.sleep(0.05)


@pytest.fixture
def mei(services: Services) -> Iterator[TestClient]:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(services)) as agent:
        response = agent.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield agent


def test_a_line_picture_reaches_the_agent_as_an_attachment(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    fake_line.contents["m-1"] = Raw("image/jpeg", PHOTO)
    post_line(client, line_body(line_image("m-1", reply_token="t1")))
    [reply] = fake_line.wait_for(REPLY)
    [text] = fake_line.texts(reply)
    assert "已收到您的圖片" in text
    assert [a["label"] for a in fake_line.quick_replies(reply)] == ["轉接真人客服"]
    downloads = [c for c in fake_line.calls if c.path == "/v2/bot/message/m-1/content"]
    assert len(downloads) == 1 and downloads[0].method == "GET"
    [shared] = pictures_of(services)
    assert (shared.content_type, shared.width, shared.height) == ("image/jpeg", 64, 48)

    # the customer asks for a person; the agent sees the picture and opens it
    post_line(client, line_body(line_postback("kefu:handoff", reply_token="t2")))
    fake_line.wait_for(REPLY, 2)
    conversation = shared.conversation_id
    view = mei.get(f"/api/agent/conversations/{conversation}").json()
    assert [p["attachment_id"] for p in view["packet"]["pictures"]] == [shared.attachment_id]
    served = mei.get(f"/api/agent/conversations/{conversation}/attachments/{shared.attachment_id}")
    assert served.status_code == 200 and served.content == PHOTO
    assert served.headers["x-content-type-options"] == "nosniff"

    # the agent's picture is told of in words: LINE gets no file from kefu
    assert mei.post(f"/api/agent/conversations/{conversation}/claim").status_code == 200
    sent = mei.post(
        f"/api/agent/conversations/{conversation}/images", content=picture("png", (8, 8))
    )
    assert sent.status_code == 201, sent.text
    deadline = time.monotonic() + 10
    while not any(
        "傳了一張圖片" in t for c in fake_line.calls_to(PUSH) for t in fake_line.texts(c)
    ):
        assert time.monotonic() < deadline, "the agent's picture was not announced"
        time.sleep(0.05)
    assert fake_line.problems == []


def test_what_line_gives_that_is_no_picture_is_refused_in_words(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    fake_line.contents["m-2"] = Raw("image/png", SVG)
    post_line(client, line_body(line_image("m-2")))
    [reply] = fake_line.wait_for(REPLY)
    assert "只能傳送 JPEG、PNG、GIF 或 WebP 圖片" in fake_line.texts(reply)[0]
    [conversation] = services.store.conversations(customer_id="line:U1")
    kinds = [r.event.kind for r in services.store.events(conversation.id)]
    assert "customer_sent_image" not in kinds


def test_a_picture_line_cannot_give_gets_the_polite_answer(
    client: TestClient, services: Services, fake_line: FakeLine
) -> None:
    post_line(client, line_body(line_image("gone")))  # the content API answers 404
    post_line(client, line_body(line_image("ext", user="U2", provider="external")))
    replies = fake_line.wait_for(REPLY, 2)
    for reply in replies:
        assert "圖片" in fake_line.texts(reply)[0] and "文字" in fake_line.texts(reply)[0]
    assert [c.path for c in fake_line.calls if "/content" in c.path] == [
        "/v2/bot/message/gone/content"
    ]
    assert services.store.conversations() == []
