"""The agents' workspace over the real app: the team's saved replies, the history of every
conversation, and who has a conversation (auto-assignment to the least busy online agent,
assignment by an admin, transfer with a note, unassignment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.services import Services
from tests.bot.api.conftest import REFUSED, next_event, send, signed, start
from tests.bot.api.test_agents_api import (  # noqa: F401 (fixtures)
    agents,
    claim,
    logged_in,
    mei,
    tom,
    waiting,
)
from tests.conftest import REPO


@pytest.fixture
def boss(agents: Services) -> Iterator[TestClient]:  # noqa: F811
    yield from logged_in(agents, "boss")


def refused_in_both_languages(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["messages"]["zh"] and body["messages"]["en"]
    assert body["messages"]["zh"] != body["messages"]["en"]


# ---- saved replies --------------------------------------------------------------------------

RETURN_ZH = {
    "shortcut": "/退貨",
    "title": "退貨流程",
    "text": "請到「我的訂單」按「申請退貨」。",
    "language": "zh",
}
RETURN_EN = {
    "shortcut": "return",
    "title": "How to return",
    "text": "Open My orders and press Return.",
    "language": "en",
}


def test_saved_replies_are_added_searched_edited_and_deleted_by_the_team(
    mei: TestClient,  # noqa: F811
    tom: TestClient,  # noqa: F811
    client: TestClient,
) -> None:
    assert mei.get("/api/agent/saved-replies").json() == {"replies": []}  # none by default
    added = mei.post("/api/agent/saved-replies", json=RETURN_ZH)
    assert added.status_code == 201, added.text
    zh = added.json()
    assert (zh["shortcut"], zh["created_by"], zh["updated_by"]) == ("退貨", "mei", "mei")
    en = tom.post("/api/agent/saved-replies", json=RETURN_EN).json()
    greet = tom.post(
        "/api/agent/saved-replies",
        json={"shortcut": "hi", "title": "問候", "text": "您好，我是客服，很高興為您服務。"},
    ).json()
    assert greet["language"] == "zh"

    def shortcuts(**params: Any) -> list[str]:
        response = mei.get("/api/agent/saved-replies", params=params)
        assert response.status_code == 200, response.text
        return [r["shortcut"] for r in response.json()["replies"]]

    assert shortcuts(q="/退", shortcut=True) == ["退貨"]
    assert shortcuts(q="/RE", shortcut=True) == ["return"]  # shortcuts are lowercase
    assert shortcuts(q="/", shortcut=True) == ["hi", "return", "退貨"]
    assert shortcuts(q="", language="en") == ["return", "hi", "退貨"]  # English first
    assert shortcuts(q="我的訂單") == ["退貨"]  # in the text
    assert shortcuts(q="return") == ["return"]  # the shortcut's match first ...
    assert shortcuts(q="客服", shortcut=True) == []  # ... and only that, for the menu

    # anyone on the team may change it; it remembers who did
    edited = mei.patch(f"/api/agent/saved-replies/{en['id']}", json={"text": "Go to My orders."})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["text"], edited.json()["updated_by"]) == ("Go to My orders.", "mei")
    assert edited.json()["created_by"] == "tom" and edited.json()["shortcut"] == "return"

    assert mei.delete(f"/api/agent/saved-replies/{greet['id']}").status_code == 204
    refused_in_both_languages(
        mei.delete(f"/api/agent/saved-replies/{greet['id']}"), 404, "saved_reply_not_found"
    )
    assert shortcuts() == ["return", "退貨"]
    assert client.get("/api/agent/saved-replies").status_code == 401


def test_saved_replies_refuse_bad_input_with_a_clear_error_and_keep_what_was_there(
    mei: TestClient,  # noqa: F811
) -> None:
    kept = mei.post("/api/agent/saved-replies", json=RETURN_ZH).json()
    cases = [
        ({**RETURN_ZH}, 409, "shortcut_taken"),
        ({**RETURN_EN, "shortcut": "/退貨"}, 409, "shortcut_taken"),
        ({**RETURN_EN, "shortcut": "  /  "}, 400, "empty_shortcut"),
        ({**RETURN_EN, "shortcut": "two words"}, 400, "invalid_shortcut"),
        ({**RETURN_EN, "shortcut": "a/b"}, 400, "invalid_shortcut"),
        ({**RETURN_EN, "shortcut": "x" * 33}, 400, "shortcut_too_long"),
        ({**RETURN_EN, "title": "   "}, 400, "empty_saved_reply"),
        ({**RETURN_EN, "text": ""}, 400, "empty_saved_reply"),
        ({**RETURN_EN, "title": "t" * 121}, 400, "saved_reply_too_long"),
        ({**RETURN_EN, "text": "t" * 4001}, 400, "saved_reply_too_long"),
    ]
    for body, status, code in cases:
        refused_in_both_languages(mei.post("/api/agent/saved-replies", json=body), status, code)
    wrong_language = mei.post("/api/agent/saved-replies", json={**RETURN_EN, "language": "fr"})
    assert wrong_language.status_code == 422
    other = mei.post("/api/agent/saved-replies", json=RETURN_EN).json()
    refused_in_both_languages(
        mei.patch(f"/api/agent/saved-replies/{other['id']}", json={"shortcut": "退貨"}),
        409,
        "shortcut_taken",
    )
    refused_in_both_languages(
        mei.patch("/api/agent/saved-replies/nope", json={"title": "x"}),
        404,
        "saved_reply_not_found",
    )
    replies = mei.get("/api/agent/saved-replies").json()["replies"]
    assert {r["shortcut"]: r["text"] for r in replies} == {
        "return": RETURN_EN["text"],
        "退貨": kept["text"],
    }


# ---- history ------------------------------------------------------------------------------


def test_history_finds_a_resolved_conversation_and_opens_it_with_its_packet(
    client: TestClient,
    mei: TestClient,  # noqa: F811
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    returns = start(client, channel="web", **signed("cust-7"))
    send(client, returns, "我要找真人客服，退貨到底要怎麼申請？")
    if client.get(f"/api/conversations/{returns}").json()["conversation"]["status"] == "bot":
        assert client.post(f"/api/conversations/{returns}/handoff").status_code == 200
    assert claim(mei, returns).status_code == 200
    mei.post(f"/api/agent/conversations/{returns}/messages", json={"text": "已幫您辦理 RMA-2291"})
    assert mei.post(f"/api/agent/conversations/{returns}/resolve").status_code == 200
    weather = start(client, channel="web", **signed("cust-8"))
    send(client, weather, REFUSED)

    def found(**params: Any) -> list[str]:
        response = mei.get("/api/agent/conversations/search", params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["conversations"]]

    assert found(q="rma-2291") == [returns]  # an agent's words, any case
    assert found(q="退貨") == [returns]
    assert found(customer_id="cust-7") == [returns]
    assert found(status="resolved") == [returns]
    assert found(tag="退換貨") == [returns]
    assert found(tag="退換貨", status="bot") == []
    assert found(channel="web", start=before.isoformat()) == [weather, returns]
    assert found(end=before.isoformat()) == []
    page = mei.get("/api/agent/conversations/search", params={"limit": 1, "offset": 1}).json()
    assert (page["total"], [c["id"] for c in page["conversations"]]) == (2, [returns])

    entry = mei.get("/api/agent/conversations/search", params={"q": "RMA"}).json()
    hit = entry["conversations"][0]
    assert (hit["status"], hit["agent"], hit["agent_name"]) == ("resolved", "mei", "美玲")
    assert "退換貨" in hit["tags"] and hit["first_message"].startswith("我要找真人客服")

    opened = mei.get(f"/api/agent/conversations/{returns}").json()
    assert opened["conversation"]["status"] == "resolved"
    assert opened["packet"]["question"]
    assert "退換貨" in opened["packet"]["customer"]["conversation_tags"]

    refused_in_both_languages(
        mei.get(
            "/api/agent/conversations/search",
            params={"start": "2026-12-03T10:00:00+08:00", "end": "2026-12-03T09:00:00+08:00"},
        ),
        400,
        "invalid_date_range",
    )
    assert mei.get("/api/agent/conversations/search", params={"status": "gone"}).status_code == 422
    assert client.get("/api/agent/conversations/search").status_code == 401


# ---- who has it ---------------------------------------------------------------------------


def test_an_admin_assigns_an_agent_transfers_with_a_note_and_unassigns(
    client: TestClient,
    mei: TestClient,  # noqa: F811
    tom: TestClient,  # noqa: F811
    boss: TestClient,
) -> None:
    conversation = waiting(client)
    path = f"/api/agent/conversations/{conversation}"
    refused = mei.post(f"{path}/assign", json={"agent": "tom"})
    assert refused.status_code == 403  # admins only
    refused_in_both_languages(
        boss.post(f"{path}/assign", json={"agent": "ghost"}), 404, "agent_not_found"
    )
    given = boss.post(f"{path}/assign", json={"agent": "mei"})
    assert given.status_code == 200, given.text
    assert (given.json()["status"], given.json()["agent_name"]) == ("with_agent", "美玲")
    queue = mei.get("/api/agent/queue").json()["conversations"]
    entry = next(e for e in queue if e["id"] == conversation)
    assert (entry["agent"], entry["agent_name"]) == ("mei", "美玲")

    # only the agent who has it (or an admin) passes it on
    assert tom.post(f"{path}/transfer", json={"agent": "tom"}).status_code == 403
    refused_in_both_languages(
        mei.post(f"{path}/transfer", json={"agent": "mei"}), 409, "already_theirs"
    )
    moved = mei.post(f"{path}/transfer", json={"agent": "tom", "note": "客戶要退 A100，已確認發票"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["agent_name"] == "Tom"
    assert mei.post(f"{path}/messages", json={"text": "還在嗎"}).status_code == 403
    assert tom.post(f"{path}/messages", json={"text": "您好，我是 Tom"}).status_code == 201

    seen = tom.get(path).json()
    moves = [e["data"] for e in seen["events"] if e["kind"] == "status_changed"]
    assert moves[-1]["reason"] == "transferred"
    assert (moves[-1]["assignee"], moves[-1]["assignee_name"]) == ("tom", "Tom")
    assert (moves[-1]["actor"], moves[-1]["agent_name"]) == ("agent:mei", "美玲")
    notes = [e["data"]["text"] for e in seen["events"] if e["kind"] == "agent_noted"]
    assert notes == ["客戶要退 A100，已確認發票"]

    customer = client.get(f"/api/conversations/{conversation}").json()
    assert all(e["kind"] != "agent_noted" for e in customer["events"])
    assert all("assignee" not in e["data"] for e in customer["events"])

    assert mei.post(f"{path}/unassign").status_code == 403
    back = tom.post(f"{path}/unassign")
    assert back.status_code == 200, back.text
    assert (back.json()["status"], back.json()["agent_name"]) == ("waiting", None)
    refused_in_both_languages(tom.post(f"{path}/unassign"), 409, "invalid_transition")
    # an admin moves one an agent has
    assert claim(mei, conversation).status_code == 200
    assert boss.post(f"{path}/assign", json={"agent": "tom"}).json()["agent_name"] == "Tom"

    team = {a["username"]: a for a in tom.get("/api/agent/agents").json()["agents"]}
    assert set(team) == {"mei", "tom", "boss"}
    assert team["tom"]["in_hand"] == 1 and team["mei"]["in_hand"] == 0
    assert not team["tom"]["online"]


def test_a_new_handoff_goes_to_the_least_busy_online_agent(
    agents: Services,  # noqa: F811
    client: TestClient,
    mei: TestClient,  # noqa: F811
    tom: TestClient,  # noqa: F811
) -> None:
    agents.assignment.enabled = True
    early = waiting(client)  # nobody online: it waits
    assert client.get(f"/api/conversations/{early}").json()["conversation"]["status"] == "waiting"

    def agent_of(conversation: str) -> str | None:
        queue = mei.get("/api/agent/queue").json()["conversations"]
        return next(e["agent"] for e in queue if e["id"] == conversation)

    with mei.websocket_connect("/api/agent/queue/events") as mei_console:
        assert next_event(mei_console)["kind"] == "queue"
        # coming online, mei gets the one that was waiting
        assert agent_of(early) == "mei"
        with tom.websocket_connect("/api/agent/queue/events") as tom_console:
            assert next_event(tom_console)["kind"] == "queue"
            online = {
                a["username"] for a in mei.get("/api/agent/agents").json()["agents"] if a["online"]
            }
            assert online == {"mei", "tom"}
            second = waiting(client)
            assert agent_of(second) == "tom"  # mei has one already
            third = waiting(client)
            assert agent_of(third) in ("mei", "tom")
            fourth = waiting(client)
            assert {agent_of(third), agent_of(fourth)} == {"mei", "tom"}
        # tom closed his console: only mei is online
        fifth = waiting(client)
        assert agent_of(fifth) == "mei"
    sixth = waiting(client)
    assert client.get(f"/api/conversations/{sixth}").json()["conversation"]["status"] == "waiting"
    log = mei.get(f"/api/agent/conversations/{fifth}").json()["events"]
    given = [e["data"] for e in log if e["kind"] == "status_changed"][-1]
    assert (given["reason"], given["actor"], given["assignee_name"]) == (
        "auto_assigned",
        "system",
        "美玲",
    )


def test_the_example_saved_replies_are_accepted_as_they_are(mei: TestClient) -> None:  # noqa: F811
    examples = json.loads((REPO / "docs" / "saved_replies.example.json").read_text("utf-8"))
    for example in examples:
        response = mei.post("/api/agent/saved-replies", json=example)
        assert response.status_code == 201, response.text
    found = mei.get("/api/agent/saved-replies", params={"q": "/", "shortcut": True}).json()
    assert len(found["replies"]) == len(examples)
