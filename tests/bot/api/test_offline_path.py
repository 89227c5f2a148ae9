"""Never strand a customer: the widget's config, a handoff with nobody there (told honestly,
with the next opening, offered a message), offline messages in the agents' inbox, the way
back to the bot, and customers gone from the queue moving out of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.services import Services
from bot.settings import DeskSettings
from tests.bot.api.conftest import ANSWERED, events, send, services_over, start

TAIPEI = ZoneInfo("Asia/Taipei")
THURSDAY_NIGHT = datetime(2026, 12, 3, 23, 30, tzinfo=TAIPEI)
THURSDAY_MORNING = datetime(2026, 12, 3, 10, 0, tzinfo=TAIPEI)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(THURSDAY_NIGHT)


@pytest.fixture
def services(demo_data_dir: Path, tmp_path: Path, clock: Clock) -> Iterator[Services]:
    """Handoffs with nobody there take the offline path; every clock reads `clock`."""
    for built in services_over(
        demo_data_dir, tmp_path, desk=DeskSettings(customer_gone_minutes=10)
    ):
        built.staffing.clock = clock
        built.presence.clock = clock  # type: ignore[attr-defined]
        built.sightings.clock = clock
        built.sightings.started = clock()
        built.accounts.add("mei", PASSWORD, "agent", "美玲")
        built.accounts.add("boss", PASSWORD, "admin", "店長")
        yield built


def logged_in(services: Services, username: str) -> TestClient:
    client = TestClient(create_app(services))
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def test_widget_config_says_closed_at_night_and_when_it_opens(
    client: TestClient, clock: Clock
) -> None:
    config = client.get("/api/widget/config").json()
    assert config["open_now"] is False
    assert config["agents_available"] is False
    assert datetime.fromisoformat(config["next_open"]) == datetime(2026, 12, 4, 9, 0, tzinfo=TAIPEI)
    assert config["branding"]["name"] == {"zh": "好日子客服中心", "en": "Good Days help desk"}
    assert config["branding"]["greeting"]["zh"].startswith("您好")
    # open in the morning, but nobody online: still nobody available, no next opening
    clock.at = THURSDAY_MORNING
    config = client.get("/api/widget/config").json()
    assert (config["open_now"], config["agents_available"], config["next_open"]) == (
        True,
        False,
        None,
    )


def test_an_agent_with_the_console_open_makes_agents_available(
    services: Services, client: TestClient, clock: Clock
) -> None:
    clock.at = THURSDAY_MORNING
    mei = logged_in(services, "mei")
    with mei.websocket_connect("/api/agent/queue/events") as console:
        console.receive_json()
        assert client.get("/api/widget/config").json()["agents_available"] is True
        assert mei.get("/api/agent/presence").json()["me"] == "online"
        # idle past away_after_minutes: away, and nobody available
        clock.at += timedelta(minutes=11)
        assert mei.get("/api/agent/presence").json()["me"] == "away"
        assert client.get("/api/widget/config").json()["agents_available"] is False
        console.send_text('{"type": "active"}')
        mei.get("/api/agent/presence")  # the message above is read by then
        for _ in range(50):
            if mei.get("/api/agent/presence").json()["me"] == "online":
                break
        assert mei.get("/api/agent/presence").json()["me"] == "online"
        assert mei.put("/api/agent/presence", json={"status": "away"}).json()["me"] == "away"
        assert client.get("/api/widget/config").json()["agents_available"] is False
        mei.put("/api/agent/presence", json={"status": "online"})
        assert client.get("/api/widget/config").json()["agents_available"] is True
    # the last console closed: offline
    assert mei.get("/api/agent/presence").json()["me"] == "offline"
    assert client.get("/api/widget/config").json()["agents_available"] is False


def test_a_deactivated_agent_s_open_console_makes_nobody_available(
    services: Services, client: TestClient, clock: Clock
) -> None:
    clock.at = THURSDAY_MORNING
    mei = logged_in(services, "mei")
    boss = logged_in(services, "boss")
    with mei.websocket_connect("/api/agent/queue/events") as console:
        console.receive_json()
        assert client.get("/api/widget/config").json()["agents_available"] is True
        assert boss.delete("/api/admin/users/mei").status_code == 200
        # her console is still open, but she may no longer answer anyone
        assert client.get("/api/widget/config").json()["agents_available"] is False
        presences = boss.get("/api/agent/presence").json()["agents"]
        assert "mei" not in [p["username"] for p in presences]
        conversation = start(client)
        handoff = client.post(f"/api/conversations/{conversation}/handoff").json()
        assert handoff["agents_available"] is False
        # the console hears that its session is over at its next wake-up (the inbox changes)
        left = {"text": "請回電", "email": "kai@example.tw"}
        assert client.post(f"/api/conversations/{conversation}/offline-message", json=left)
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(10):
                console.receive_json()
        assert closed.value.code == 4401


def test_a_handoff_at_night_says_nobody_is_there_and_when_they_are_back(
    services: Services, client: TestClient
) -> None:
    conversation = start(client)
    turn = send(client, conversation, "我要找真人客服")
    assert turn["status"] == "handed_off"
    assert turn["agents_available"] is False
    assert turn["conversation_status"] == "bot"  # the bot keeps answering
    assert "目前沒有客服人員上線" in turn["reply"]
    assert "明天（週五）09:00" in turn["reply"]
    assert "留下訊息" in turn["reply"]
    assert datetime.fromisoformat(turn["next_open"]) == datetime(2026, 12, 4, 9, tzinfo=TAIPEI)
    assert services.queue.entries() == []
    # the bot answers the next question
    assert send(client, conversation, ANSWERED)["status"] == "answered"
    # the widget's button, in English
    english = start(client, language="en")
    send(client, english, "What is the return policy?")
    response = client.post(f"/api/conversations/{english}/handoff")
    assert response.status_code == 200, response.text
    handoff = response.json()
    assert handoff["agents_available"] is False
    assert handoff["kind"] == "agents_unavailable"
    assert "nobody from our team online" in handoff["reply"]
    assert "tomorrow (Friday) at 09:00" in handoff["reply"]
    assert events(client, english)[-1]["kind"] == "agents_unavailable"


def test_with_an_agent_online_the_handoff_queues(
    services: Services, client: TestClient, clock: Clock
) -> None:
    clock.at = THURSDAY_MORNING
    mei = logged_in(services, "mei")
    with mei.websocket_connect("/api/agent/queue/events") as console:
        console.receive_json()
        conversation = start(client)
        handoff = client.post(f"/api/conversations/{conversation}/handoff").json()
        assert handoff["agents_available"] is True
        assert handoff["data"]["to_status"] == "waiting"


def test_an_offline_message_reaches_the_inbox_and_its_answer_the_customer(
    services: Services, client: TestClient, clock: Clock
) -> None:
    conversation = start(client)
    client.post(f"/api/conversations/{conversation}/handoff")
    url = f"/api/conversations/{conversation}/offline-message"
    for body, code in [
        ({"text": "請回電"}, "no_contact"),
        ({"text": "請回電", "email": "not-an-email"}, "bad_email"),
        ({"text": "請回電", "phone": "12"}, "bad_phone"),
        ({"text": "   ", "email": "a@b.tw"}, "empty_message"),
    ]:
        response = client.post(url, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == code
        assert response.json()["messages"]["zh"]
    response = client.post(
        url, json={"text": "我的訂單還沒到，請回信給我", "email": "mei.customer@example.tw"}
    )
    assert response.status_code == 201, response.text
    seq = response.json()["seq"]
    assert response.json()["data"]["email"] == "mei.customer@example.tw"

    anonymous = client.get("/api/agent/offline-messages")
    assert anonymous.status_code == 401
    clock.at = THURSDAY_MORNING + timedelta(days=1)
    mei = logged_in(services, "mei")
    inbox = mei.get("/api/agent/offline-messages").json()
    assert inbox["unanswered"] == 1
    [message] = inbox["messages"]
    assert message["text"] == "我的訂單還沒到，請回信給我"
    assert message["email"] == "mei.customer@example.tw"
    assert (message["conversation_id"], message["seq"]) == (conversation, seq)

    wrong = mei.post(f"/api/agent/offline-messages/{conversation}/1/reply", json={"text": "hi"})
    assert wrong.status_code == 404
    assert wrong.json()["code"] == "offline_message_not_found"
    answer = mei.post(
        f"/api/agent/offline-messages/{conversation}/{seq}/reply",
        json={"text": "您好，訂單已出貨，明天送達。"},
    )
    assert answer.status_code == 201, answer.text
    inbox = mei.get("/api/agent/offline-messages").json()
    assert inbox["unanswered"] == 0
    assert inbox["messages"][0]["answered_by"] == "美玲"
    # the customer sees the answer when they come back; the marker is for agents only
    seen = events(client, conversation)
    assert seen[-1]["kind"] == "agent_replied"
    assert seen[-1]["data"]["text"] == "您好，訂單已出貨，明天送達。"
    assert "offline_message_answered" not in [e["kind"] for e in seen]


def test_a_waiting_customer_goes_back_to_the_bot_and_leaves_the_queue(
    services: Services, client: TestClient, clock: Clock
) -> None:
    clock.at = THURSDAY_MORNING
    mei = logged_in(services, "mei")
    with mei.websocket_connect("/api/agent/queue/events") as console:
        console.receive_json()
        conversation = start(client)
        client.post(f"/api/conversations/{conversation}/handoff")
        assert [e.conversation.id for e in services.queue.entries()] == [conversation]
        response = client.post(f"/api/conversations/{conversation}/bot")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["to_status"] == "bot"
        assert response.json()["data"]["actor"] == "customer"
        assert services.queue.entries() == []
        assert send(client, conversation, ANSWERED)["status"] == "answered"
        again = client.post(f"/api/conversations/{conversation}/bot")
        assert again.status_code == 409


def test_a_customer_gone_from_the_queue_moves_out_as_missed(
    services: Services, client: TestClient, clock: Clock
) -> None:
    clock.at = THURSDAY_MORNING
    services.sightings.started = clock()
    mei = logged_in(services, "mei")
    with mei.websocket_connect("/api/agent/queue/events") as console:
        console.receive_json()
        gone, stays, wrote = start(client), start(client), start(client)
        for conversation in (gone, stays, wrote):
            client.post(f"/api/conversations/{conversation}/handoff")
        client.post(
            f"/api/conversations/{wrote}/offline-message",
            json={"text": "請打給我", "phone": "0912-345-678"},
        )
    assert services.queue.position(stays) in (1, 2, 3)
    clock.at += timedelta(minutes=9)
    events(client, stays)  # the widget of this one polls
    assert services.expiry.run() == []
    clock.at += timedelta(minutes=2)  # 11 minutes since the others were last seen
    assert services.expiry.run() == [gone]
    assert services.store.get(gone).status == "bot"
    last = services.store.events(gone)[-1].event
    assert (last.reason, last.actor) == ("customer_left", "system")  # type: ignore[attr-defined]
    waiting = [e.conversation.id for e in services.queue.entries() if e.position]
    assert sorted(waiting) == sorted([stays, wrote])
    assert {services.queue.position(c) for c in waiting} == {1, 2}


def test_admins_set_the_hours_and_the_widget_follows(
    services: Services, client: TestClient, clock: Clock
) -> None:
    boss = logged_in(services, "boss")
    mei = logged_in(services, "mei")
    assert mei.get("/api/admin/hours").status_code == 403
    hours = boss.get("/api/admin/hours").json()
    assert hours["time_zone"] == "Asia/Taipei"
    assert hours["days"]["mon"] == ["09:00-18:00"]
    assert hours["open_now"] is False
    night_shift = {"time_zone": "Asia/Taipei", "days": {"thu": ["22:00-02:00"]}, "holidays": []}
    saved = boss.put("/api/admin/hours", json=night_shift)
    assert saved.status_code == 200, saved.text
    assert saved.json()["open_now"] is True
    assert client.get("/api/widget/config").json()["open_now"] is True
    bad = boss.put("/api/admin/hours", json={**night_shift, "days": {"thu": ["9-18"]}})
    assert bad.status_code == 422
    assert boss.get("/api/admin/hours").json()["days"] == {"thu": ["22:00-02:00"]}
    holiday = boss.put("/api/admin/hours", json={**night_shift, "holidays": ["2026-12-03"]})
    assert holiday.json()["open_now"] is False
    assert holiday.json()["next_open"].startswith("2026-12-10T22:00:00+08:00")
