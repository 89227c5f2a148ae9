"""The chat API on the real app: conversations, messages, transcripts, handoff, feedback, the
event stream, and the errors a client gets (each with a stable code)."""

from __future__ import annotations

import json
import re
import threading
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.answering.refusal import RefusalModel
from bot.answering.texts import both, say
from bot.app import create_app
from bot.services import Services
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.ingestion import ingest_paths
from tests.bot.api.conftest import (
    ANSWERED,
    REFUSED,
    SIMILARITY,
    events,
    faq_row,
    next_event,
    send,
    services_over,
    start,
)
from tests.customer_tokens import as_customer

UNKNOWN = "0123456789abcdef0123456789abcdef"
XSS = "<img src=x onerror=alert(1)>"


def message_kinds(client: TestClient, conversation_id: str) -> list[str]:
    return [e["kind"] for e in events(client, conversation_id)]


def assert_no_internal_locator(body: Any) -> None:
    """Nothing a customer receives names a knowledge file, a sheet and row, or repeats the raw
    row ("問題: …\n答案: …")."""
    text = json.dumps(body, ensure_ascii=False)
    for internal in ("shop_faq.xlsx", "orders_export", "policy.pdf", "sheet=", "row="):
        assert internal not in text, internal
    assert not re.search(r"第 ?\d+ ?列|\brow \d+", text), text
    assert not re.search(r"(問題|答案|分類|更新日期|Question|Answer): ", text), text


# ---- starting -----------------------------------------------------------------------------


def test_start_without_a_body(client: TestClient):
    response = client.post("/api/conversations")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "channel",
        "customer_id",
        "customer_hint",
        "language",
        "status",
        "created_at",
        "updated_at",
        "queue_position",
        "agent_name",
        "customer_token",
    }
    assert (body["channel"], body["customer_id"], body["language"], body["status"]) == (
        "web",
        None,
        None,
        "bot",
    )
    assert message_kinds(client, body["id"]) == ["conversation_started"]


def test_start_with_a_body(client: TestClient):
    body = {"channel": "line", "customer_id": "U42", "language": "en"}
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201
    # unsigned, the customer's id is only a hint
    named = {"channel": "line", "customer_id": None, "customer_hint": "U42", "language": "en"}
    assert {k: response.json()[k] for k in named} == named
    started = events(client, response.json()["id"])[0]["data"]
    assert started == named


def test_start_with_an_unknown_language_is_an_invalid_request(client: TestClient):
    response = client.post("/api/conversations", json={"language": "fr"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["messages"] == both("error_bad_request")
    assert [d["where"] for d in body["details"]] == ["body.language"]


# ---- messages -----------------------------------------------------------------------------


def test_a_message_gets_the_bots_turn(client: TestClient):
    conversation_id = start(client)
    turn = send(client, conversation_id, ANSWERED)
    _, answer = faq_row("退換貨", ANSWERED)
    assert set(turn) == {
        "conversation_id",
        "agents_available",
        "next_open",
        "status",
        "reply",
        "language",
        "question",
        "citations",
        "options",
        "confidence",
        "reason",
        "conversation_status",
        "message_seq",
        "turn_seq",
        "latency_ms",
    }
    assert turn["conversation_id"] == conversation_id
    assert (turn["status"], turn["reason"], turn["language"]) == ("answered", "confident", "zh")
    assert turn["reply"] == answer and turn["question"] == ANSWERED
    assert turn["options"] == []
    assert 0.5 <= turn["confidence"] <= 1
    assert (turn["conversation_status"], turn["message_seq"], turn["turn_seq"]) == ("bot", 2, 3)
    assert turn["latency_ms"] > 0
    (cited,) = turn["citations"]
    # the customer is told the FAQ's question, not the file, its sheet and row
    assert cited["item_id"] and (cited["label"], cited["title"]) == (ANSWERED, ANSWERED)
    assert (cited["page"], cited["url"]) == (None, None)
    assert set(cited) == {"item_id", "label", "title", "page", "url"}
    assert_no_internal_locator(turn)


def test_an_english_question_gets_english_citation_labels(client: TestClient):
    conversation_id = start(client, language="en")
    turn = send(client, conversation_id, "How long does delivery take?")
    _, answer = faq_row("English FAQ", "How long does delivery take?")
    assert turn["status"] == "answered" and turn["language"] == "en"
    assert turn["reply"] == answer
    assert turn["citations"][0]["label"] == "How long does delivery take?"
    assert_no_internal_locator(turn)


def test_an_off_topic_question_is_refused_with_a_reason(client: TestClient):
    conversation_id = start(client)
    turn = send(client, conversation_id, REFUSED)
    assert turn["status"] == "refused"
    assert turn["reply"] == say("refusal", "zh")
    assert turn["reason"] == "low_similarity"
    assert turn["confidence"] < 0.5
    assert turn["citations"] == [] and turn["turn_seq"] == 3


def test_the_transcript_and_what_came_after_a_seq(client: TestClient):
    conversation_id = start(client)
    send(client, conversation_id, ANSWERED)
    response = client.get(f"/api/conversations/{conversation_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["conversation"]["id"] == conversation_id
    assert body["conversation"]["status"] == "bot"
    log = body["events"]
    assert [(e["seq"], e["kind"]) for e in log] == [
        (1, "conversation_started"),
        (2, "customer_messaged"),
        (3, "turn_answered"),
    ]
    assert log[1]["data"] == {"text": ANSWERED, "language": "zh"}
    turn = log[2]["data"]
    assert turn["decision"] == "answered" and turn["reply"] == faq_row("退換貨", ANSWERED)[1]
    assert turn["citations"][0]["label"] == ANSWERED
    assert_no_internal_locator(turn)
    # the bot's internals (retrieved scores, signal values) are for agents, not customers
    assert "details" not in turn and "retrieved" not in turn
    assert all(e["at"] for e in log)

    assert [e["seq"] for e in events(client, conversation_id, after=2)] == [3]
    assert events(client, conversation_id, after=3) == []
    bad = client.get(f"/api/conversations/{conversation_id}", params={"after": "two"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


# ---- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_an_empty_message_is_refused_in_both_languages(client: TestClient, text: str):
    conversation_id = start(client)
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": text})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "empty_message"
    assert body["messages"] == {"zh": "請輸入您的問題。", "en": "Please type your question."}
    assert body["message"] == body["messages"]["en"]
    assert message_kinds(client, conversation_id) == ["conversation_started"]


def test_a_too_long_message_is_refused_and_not_logged(client: TestClient, services: Services):
    conversation_id = start(client)
    limit = services.settings.conversation.max_message_chars
    response = client.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "退" * 20_000}
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "message_too_long"
    assert body["messages"] == both("error_message_too_long", limit=limit)
    assert str(limit) in body["messages"]["zh"] and str(limit) in body["messages"]["en"]
    assert message_kinds(client, conversation_id) == ["conversation_started"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/conversations/{id}", None),
        ("POST", "/api/conversations/{id}/messages", {"text": ANSWERED}),
        ("POST", "/api/conversations/{id}/handoff", None),
        ("POST", "/api/conversations/{id}/feedback", {"helpful": True}),
    ],
)
def test_an_unknown_conversation_is_not_found_on_every_route(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
):
    response = client.request(method, path.format(id=UNKNOWN), json=body)
    assert response.status_code == 404
    assert response.json()["code"] == "conversation_not_found"
    assert response.json()["messages"] == both("error_conversation_not_found")


def test_an_unknown_conversations_stream_closes_with_4404(client: TestClient):
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/api/conversations/{UNKNOWN}/events") as ws,
    ):
        next_event(ws)
    assert closed.value.code == 4404
    assert closed.value.reason == "conversation_not_found"


def test_invalid_json_is_a_bad_request(client: TestClient):
    conversation_id = start(client)
    response = client.post(
        f"/api/conversations/{conversation_id}/messages",
        content='{"text": "退貨'.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["messages"] == both("error_bad_request")


@pytest.mark.parametrize("body", [{}, {"message": ANSWERED}, {"text": None}, {"text": ["a"]}])
def test_a_body_without_text_is_an_invalid_request(client: TestClient, body: dict[str, Any]):
    conversation_id = start(client)
    response = client.post(f"/api/conversations/{conversation_id}/messages", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert [d["where"] for d in response.json()["details"]] == ["body.text"]
    assert message_kinds(client, conversation_id) == ["conversation_started"]


def test_html_is_kept_as_text(client: TestClient):
    conversation_id = start(client)
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": XSS})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["question"] == XSS
    (message,) = [e for e in events(client, conversation_id) if e["kind"] == "customer_messaged"]
    assert message["data"]["text"] == XSS  # verbatim: not escaped, not stripped


def test_the_chat_page_never_renders_text_as_html():
    page = files("bot").joinpath("static/chat.html").read_text(encoding="utf-8")
    script = page[page.index("<script>") : page.index("</script>")]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    # every text the page shows goes through textContent
    assert re.search(r"li\.textContent\s*=\s*text", script)
    assert 'bubble("customer", text)' in script and 'bubble("customer", e.data.text)' in script


def test_two_messages_posted_at_once_are_both_kept_in_order(client: TestClient):
    conversation_id = start(client)
    questions = [ANSWERED, "運費怎麼算？多少錢免運？"]
    go = threading.Barrier(len(questions))
    replies: dict[str, Any] = {}

    def post(text: str) -> None:
        go.wait()
        replies[text] = client.post(
            f"/api/conversations/{conversation_id}/messages", json={"text": text}
        )

    threads = [threading.Thread(target=post, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert {q: r.status_code for q, r in replies.items()} == dict.fromkeys(questions, 200)

    log = events(client, conversation_id)
    assert [e["seq"] for e in log] == [1, 2, 3, 4, 5]
    assert [e["kind"] for e in log[1::2]] == ["customer_messaged", "customer_messaged"]
    assert all(e["kind"].startswith("turn_") for e in log[2::2])
    assert sorted(e["data"]["text"] for e in log[1::2]) == sorted(questions)
    for message, turn in zip(log[1::2], log[2::2], strict=True):
        reply = replies[message["data"]["text"]].json()
        assert (reply["message_seq"], reply["turn_seq"]) == (message["seq"], turn["seq"])
        assert turn["data"]["reply"] == reply["reply"]


# ---- handoff and feedback -----------------------------------------------------------------


def test_handoff_queues_the_conversation_and_messages_are_delivered(client: TestClient):
    conversation_id = start(client)
    send(client, conversation_id, REFUSED)
    response = client.post(f"/api/conversations/{conversation_id}/handoff")
    assert response.status_code in (200, 201)
    event = response.json()
    assert (event["seq"], event["kind"]) == (4, "status_changed")
    assert event["data"] == {
        "from_status": "bot",
        "to_status": "waiting",
        "reason": "customer_request",
        "actor": "customer",
        "agent_name": None,
    }

    again = client.post(f"/api/conversations/{conversation_id}/handoff")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert again.json()["details"] == {"status": "waiting", "wanted": "waiting"}

    turn = send(client, conversation_id, "請問還在嗎？")
    assert turn["status"] == "delivered"
    assert turn["conversation_status"] == "waiting"
    assert (turn["reply"], turn["turn_seq"], turn["confidence"], turn["reason"]) == (
        None,
        None,
        None,
        None,
    )
    assert turn["message_seq"] == 5
    log = events(client, conversation_id)
    assert log[-1]["kind"] == "customer_messaged" and log[-1]["data"]["text"] == "請問還在嗎？"
    current = client.get(f"/api/conversations/{conversation_id}").json()["conversation"]
    assert current["status"] == "waiting"


def test_feedback_on_an_answer(client: TestClient):
    conversation_id = start(client)
    turn = send(client, conversation_id, ANSWERED)
    response = client.post(
        f"/api/conversations/{conversation_id}/feedback",
        json={"helpful": True, "turn_seq": turn["turn_seq"]},
    )
    assert response.status_code == 201
    event = response.json()
    assert (event["seq"], event["kind"]) == (4, "feedback_given")
    assert event["data"] == {"helpful": True, "turn_seq": 3}
    assert events(client, conversation_id)[-1] == event


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"helpful": "maybe"}, "body.helpful"),
        ({"helpful": None}, "body.helpful"),
        ({}, "body.helpful"),
        ({"helpful": False, "turn_seq": 0}, "body.turn_seq"),
    ],
)
def test_feedback_must_say_yes_or_no(client: TestClient, body: dict[str, Any], where: str):
    conversation_id = start(client)
    response = client.post(f"/api/conversations/{conversation_id}/feedback", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert [d["where"] for d in response.json()["details"]] == [where]
    assert message_kinds(client, conversation_id) == ["conversation_started"]


# ---- the event stream ---------------------------------------------------------------------


def test_the_stream_replays_the_history_then_pushes_live(client: TestClient):
    conversation_id = start(client)
    send(client, conversation_id, ANSWERED)
    with client.websocket_connect(f"/api/conversations/{conversation_id}/events") as ws:
        replayed = [next_event(ws) for _ in range(3)]
        assert [(e["seq"], e["kind"]) for e in replayed] == [
            (1, "conversation_started"),
            (2, "customer_messaged"),
            (3, "turn_answered"),
        ]
        assert replayed == events(client, conversation_id)  # the same shape as the transcript

        turn = send(client, conversation_id, REFUSED)
        live = [next_event(ws), next_event(ws)]
        assert [(e["seq"], e["kind"]) for e in live] == [
            (4, "customer_messaged"),
            (5, "turn_refused"),
        ]
        assert live[1]["data"]["reply"] == turn["reply"]

        client.post(f"/api/conversations/{conversation_id}/handoff")
        assert next_event(ws)["data"]["to_status"] == "waiting"
        # nothing left in flight when the client leaves
        assert next_event(ws) == {"kind": "queue_position", "data": {"position": 1}}


def test_reconnecting_with_the_last_seq_gets_only_what_was_missed(client: TestClient):
    conversation_id = start(client)
    send(client, conversation_id, ANSWERED)
    with client.websocket_connect(f"/api/conversations/{conversation_id}/events") as ws:
        last = [next_event(ws) for _ in range(3)][-1]["seq"]
    assert last == 3

    send(client, conversation_id, REFUSED)  # while disconnected: seq 4 and 5
    url = f"/api/conversations/{conversation_id}/events?after={last}"
    with client.websocket_connect(url) as ws:
        missed = [next_event(ws), next_event(ws)]
        assert [e["seq"] for e in missed] == [4, 5]
        client.post(f"/api/conversations/{conversation_id}/feedback", json={"helpful": False})
        assert next_event(ws)["seq"] == 6  # the next one, nothing seen twice


# ---- the API description ------------------------------------------------------------------


def test_openapi_lists_the_routes_and_their_errors(client: TestClient):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {
        "/api/conversations",
        "/api/conversations/{conversation_id}",
        "/api/conversations/{conversation_id}/messages",
        "/api/conversations/{conversation_id}/handoff",
        "/api/conversations/{conversation_id}/feedback",
        "/api/metrics",
    } <= set(paths)
    assert set(paths["/api/conversations"]) == {"post"}
    assert set(paths["/api/conversations/{conversation_id}"]) == {"get"}
    messages = paths["/api/conversations/{conversation_id}/messages"]["post"]["responses"]
    assert {"200", "400", "404", "409", "413", "422"} <= set(messages)
    assert messages["413"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiError")
    assert "ApiError" in spec["components"]["schemas"]
    assert "TurnPublic" in spec["components"]["schemas"]


def test_feedback_must_point_at_a_bot_turn(client):
    conversation = client.post("/api/conversations", json={}).json()["id"]
    turn = client.post(f"/api/conversations/{conversation}/messages", json={"text": "退貨"}).json()
    ok = client.post(
        f"/api/conversations/{conversation}/feedback",
        json={"helpful": True, "turn_seq": turn["turn_seq"]},
    )
    assert ok.status_code == 201
    for wrong in (turn["message_seq"], 999):
        refused = client.post(
            f"/api/conversations/{conversation}/feedback", json={"helpful": True, "turn_seq": wrong}
        )
        assert refused.status_code == 400 and refused.json()["code"] == "bad_request"


# ---- citations a customer understands -----------------------------------------------------


def test_a_pdf_answer_cites_the_documents_title_and_page(client: TestClient):
    conversation_id = start(client)
    question = "保固期滿後仍可付費維修，每件商品酌收檢測費新台幣三百元嗎？"
    turn = send(client, conversation_id, question)
    assert turn["status"] == "answered", turn
    (cited,) = turn["citations"]
    assert cited["title"] == "好日子生活選物 服務條款與政策"  # the PDF's own title
    assert (cited["label"], cited["page"]) == ("好日子生活選物 服務條款與政策 · 第 4 頁", 4)
    assert_no_internal_locator(turn)


def test_a_row_with_a_public_url_column_is_linked(tmp_path: Path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "help_center.csv").write_text(
        "問題,答案,網址\n"
        "可以用禮物卡付款嗎？,可以，結帳時輸入禮物卡序號即可折抵。,https://shop.example/help/gift-card\n"
        "禮物卡有使用期限嗎？,禮物卡自購買日起三年內有效。,javascript:alert(1)\n",
        encoding="utf-8",
    )
    data = tmp_path / "data"
    kb = KnowledgeBase.open(data, [HashingEmbedder("e5")])
    assert ingest_paths(kb, [files]).ok
    RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}).save(data)
    for services in services_over(data, tmp_path):
        with as_customer(TestClient(create_app(services))) as client:
            linked = send(client, start(client), "可以用禮物卡付款嗎？")
            (cited,) = linked["citations"]
            assert cited["label"] == "可以用禮物卡付款嗎？"
            assert cited["url"] == "https://shop.example/help/gift-card"
            unsafe = send(client, start(client), "禮物卡有使用期限嗎？")
            assert unsafe["status"] == "answered" and unsafe["citations"][0]["url"] is None
