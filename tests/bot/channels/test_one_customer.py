"""One customer across channels, through the real app: a one-time code shown in the widget and
typed in LINE, a wrong code, an agent's merge and split, and the customer's conversations on
every channel in one view."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services
from tests.bot.api.conftest import ANSWERED, REFUSED, send, start
from tests.bot.channels.conftest import (
    line_body,
    line_text,
    messenger_body,
    messenger_message,
    post_line,
    post_messenger,
)
from tests.bot.channels.platforms import FakeGraph, FakeLine

REPLY = "/v2/bot/message/reply"
PASSWORD = "correct horse battery"


@pytest.fixture
def mei(services: Services) -> Iterator[TestClient]:
    services.accounts.add("mei", PASSWORD, "agent", "美玲")
    with TestClient(create_app(services)) as agent:
        response = agent.post("/api/auth/login", json={"username": "mei", "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield agent


def line_conversation(services: Services, user: str = "U1") -> str:
    [conversation] = services.store.conversations(customer_id=f"line:{user}")
    return conversation.id


def test_a_code_from_the_widget_typed_in_line_links_the_two(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    web = start(client)
    send(client, web, ANSWERED)
    post_line(client, line_body(line_text(REFUSED)))
    fake_line.wait_for(REPLY)
    before = mei.get(f"/api/agent/conversations/{web}/customer").json()
    assert before["customer"] is None and before["identities"] == [f"conversation:{web}"]

    issued = client.post(f"/api/conversations/{web}/link-code")
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert code.startswith("KF-") and len(code) == 9

    post_line(client, line_body(line_text(code)))
    reply = fake_line.wait_for(REPLY, 2)[1]
    assert fake_line.texts(reply) == ["已完成連結，客服人員現在能看到您在各管道的對話紀錄。"]
    # the code is not a question for the bot: the LINE conversation did not hear it
    texts = [
        r.event.text  # type: ignore[attr-defined]
        for r in services.store.events(line_conversation(services))
        if r.event.kind == "customer_messaged"
    ]
    assert texts == [REFUSED]

    view = mei.get("/api/agent/customers/line:U1").json()
    assert view["customer"] and set(view["identities"]) == {"line:U1", f"conversation:{web}"}
    assert view["channels"] == ["line", "web"]
    assert {c["id"] for c in view["conversations"]} == {web, line_conversation(services)}
    [linked] = view["history"]
    assert linked["kind"] == "linked" and linked["proof"] == "one_time_code"
    assert mei.get(f"/api/agent/conversations/{web}/customer").json() == view

    # used once
    post_line(client, line_body(line_text(code, user="U2")))
    again = fake_line.wait_for(REPLY, 3)[2]
    assert "不正確或已過期" in fake_line.texts(again)[0]
    assert mei.get("/api/agent/customers/line:U2").json()["customer"] is None


def test_a_code_from_line_typed_in_the_widget_and_a_wrong_code(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    post_line(client, line_body(line_text("連結帳號")))
    [reply] = fake_line.wait_for(REPLY)
    [text] = fake_line.texts(reply)
    code = text[text.index("KF-") : text.index("KF-") + 9]
    assert services.store.conversations() == []  # asking for a code starts no conversation

    web = start(client)
    wrong = client.post(f"/api/conversations/{web}/link", json={"code": "KF-000000"})
    if code == "KF-000000":  # one chance in a million
        wrong = client.post(f"/api/conversations/{web}/link", json={"code": "KF-000001"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_code"
    assert mei.get(f"/api/agent/conversations/{web}/customer").json()["customer"] is None
    typo = client.post(f"/api/conversations/{web}/link", json={"code": "my order #123"})
    assert typo.status_code == 400 and typo.json()["code"] == "wrong_code"

    right = client.post(f"/api/conversations/{web}/link", json={"code": code.lower()})
    assert right.status_code == 200 and right.json() == {"linked": True}
    view = mei.get(f"/api/agent/conversations/{web}/customer").json()
    assert set(view["identities"]) == {"line:U1", f"conversation:{web}"}


def test_wrong_codes_are_limited(client: TestClient, fake_line: FakeLine) -> None:
    web = start(client)
    statuses = [
        client.post(f"/api/conversations/{web}/link", json={"code": f"KF-99999{n}"}).status_code
        for n in range(7)
    ]
    assert statuses[:5] == [400] * 5 and statuses[5:] == [429, 429]


def test_an_agents_merge_and_split(
    client: TestClient,
    services: Services,
    fake_line: FakeLine,
    fake_graph: FakeGraph,
    mei: TestClient,
) -> None:
    post_line(client, line_body(line_text(ANSWERED)))
    post_messenger(client, messenger_body(messenger_message(ANSWERED)))
    fake_line.wait_for(REPLY)
    fake_graph.wait_for("/me/messages")
    no_reason = mei.post(
        "/api/agent/customers/merge",
        json={"first": "line:U1", "second": "messenger:PSID1", "reason": "  "},
    )
    assert no_reason.status_code == 400
    merged = mei.post(
        "/api/agent/customers/merge",
        json={"first": "line:U1", "second": "messenger:PSID1", "reason": "同一位王先生，電話相同"},
    )
    assert merged.status_code == 200, merged.text
    view = merged.json()
    assert view["channels"] == ["line", "messenger"] and len(view["conversations"]) == 2
    assert view["history"][-1]["actor"] == "agent:mei"
    assert view["history"][-1]["reason"] == "同一位王先生，電話相同"
    twice = mei.post(
        "/api/agent/customers/merge",
        json={"first": "messenger:PSID1", "second": "line:U1", "reason": "again"},
    )
    assert twice.status_code == 409 and twice.json()["code"] == "same_customer"

    split = mei.post(
        "/api/agent/customers/split", json={"identity": "messenger:PSID1", "reason": "合併錯了"}
    )
    assert split.status_code == 200, split.text
    assert split.json()["customer"] is None and split.json()["channels"] == ["messenger"]
    line_view = mei.get("/api/agent/customers/line:U1").json()
    assert line_view["customer"] is None and line_view["identities"] == ["line:U1"]
    assert [e["kind"] for e in line_view["history"]] == ["merged", "split"]
    assert client.get("/api/agent/customers/line:U1").status_code == 401


def test_a_merge_needs_two_known_identities(client: TestClient, mei: TestClient) -> None:
    web = start(client)
    for first, second, code in [
        (f"conversation:{web}", f"conversation:{web}", "same_customer"),
        ("", "", "unknown_identity"),
        (f"conversation:{web}", "line:nobody", "unknown_identity"),
        (f"conversation:{web}", "order #123", "unknown_identity"),
    ]:
        response = mei.post(
            "/api/agent/customers/merge", json={"first": first, "second": second, "reason": "x"}
        )
        assert response.json()["code"] == code, (first, second, response.text)
    assert mei.get(f"/api/agent/conversations/{web}/customer").json()["customer"] is None


def test_the_profile_and_its_completeness(
    client: TestClient, services: Services, fake_line: FakeLine, mei: TestClient
) -> None:
    fake_line.profiles["U1"] = {"displayName": "王小明", "language": "zh-TW"}
    post_line(client, line_body(line_text(ANSWERED)))
    fake_line.wait_for(REPLY)
    web = start(client)
    send(client, web, "How do I return an item?")
    view = mei.get("/api/agent/customers/line:U1").json()
    assert view["profile"]["display_name"] == "王小明"
    assert view["profile"]["preferred_channel"] == "line"
    # wanted by default: display_name, languages, tags, satisfaction, preferred_channel
    assert view["completeness"] == pytest.approx(4 / 5)
    assert mei.get("/api/admin/customers/completeness").status_code == 403

    services.accounts.add("boss", PASSWORD, "admin", "店長")
    with TestClient(create_app(services)) as admin:
        admin.post("/api/auth/login", json={"username": "boss", "password": PASSWORD})
        report = admin.get("/api/admin/customers/completeness").json()
    assert report["customers"] == 2 and report["definition"]
    web_view = mei.get(f"/api/agent/conversations/{web}/customer").json()
    assert report["mean"] == pytest.approx(
        (view["completeness"] + web_view["completeness"]) / 2, abs=1e-4
    )
    assert report["missing"][0] == {"field": "satisfaction", "customers": 2}
