"""A card number and a national id posted in a message never come back from the API: not in
the message's answer, the transcript, the agents' view and packet, notes and replies, drafts,
the dashboard's lists, the unanswered-question report, or any export. A phone number stays in
the transcript (a call back needs it) but leaves no export or report."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.bot.api.conftest import start

CARD = "4111 1111 1111 1111"
NATIONAL_ID = "A123456789"
RESIDENT_ID = "BC32752368"
PHONE = "0912-345-678"
SECRETS = ("4111111111111111", NATIONAL_ID, RESIDENT_ID)


def _flat(body: str) -> str:
    """The body without the separators a number may be written with."""
    return re.sub(r"[\s\-]", "", body)


def _workbook_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content))
    return " ".join(
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    )


def _clean(body: str, *, phone_allowed: bool = False) -> None:
    flat = _flat(body)
    for secret in SECRETS:
        assert secret not in flat, f"{secret} came back"
    if not phone_allowed:
        assert _flat(PHONE) not in flat, "the phone number came back"


def test_nothing_redacted_comes_back_from_any_response(admin: TestClient) -> None:
    cid = start(admin)
    message = f"今天台北天氣如何？我的卡號 {CARD}，身分證 {NATIONAL_ID}，電話 {PHONE}"
    posted = admin.post(f"/api/conversations/{cid}/messages", json={"text": message})
    assert posted.status_code == 200, posted.text
    _clean(posted.text, phone_allowed=True)

    transcript = admin.get(f"/api/conversations/{cid}")
    _clean(transcript.text, phone_allowed=True)
    said = next(e for e in transcript.json()["events"] if e["kind"] == "customer_messaged")
    assert said["data"]["redacted"] == ["card", "national_id"]
    assert "**** **** **** 1111" in said["data"]["text"]
    assert PHONE in said["data"]["text"]  # kept for a call back

    assert admin.post(f"/api/conversations/{cid}/handoff", json={}).status_code == 200
    assert admin.post(f"/api/agent/conversations/{cid}/claim").status_code == 200
    reply = admin.post(
        f"/api/agent/conversations/{cid}/messages", json={"text": f"您的卡 {CARD} 已停用"}
    )
    assert reply.status_code in (200, 201), reply.text
    _clean(reply.text)
    note = admin.post(
        f"/api/agent/conversations/{cid}/notes", json={"text": f"居留證 {RESIDENT_ID}"}
    )
    assert note.status_code == 201, note.text
    _clean(note.text)
    assert note.json()["data"]["redacted"] == ["resident_id"]
    draft = admin.post(
        "/api/agent/drafts",
        json={"conversation_id": cid, "question": message, "answer": "請洽客服"},
    )
    assert draft.status_code == 201, draft.text
    _clean(draft.text)

    for path in (
        f"/api/conversations/{cid}",
        f"/api/agent/conversations/{cid}",
        "/api/agent/queue",
        "/api/admin/drafts",
        "/api/admin/gaps",
        "/api/admin/conversations",
        "/api/admin/conversations?metric=handed_off",
        "/api/admin/tags",
        "/api/metrics",
        "/api/admin/metrics.csv",
    ):
        response = admin.get(path)
        assert response.status_code == 200, (path, response.text)
        _clean(response.text, phone_allowed=path.startswith(("/api/conversations", "/api/agent")))
    gaps = admin.get("/api/admin/gaps").json()["groups"]
    assert gaps, "the refused question is in the report"
    assert "****-***-678" in str(gaps)
    for path in ("/api/admin/gaps.xlsx", "/api/admin/metrics.xlsx"):
        response = admin.get(path)
        assert response.status_code == 200, path
        _clean(_workbook_text(response.content))
