"""The admin API on the real app: uploads and re-ingest with their diff, bad files that lose
nothing, drafts into the drafts sheet, unanswered questions, the conversations behind a
number, exports and who may call what."""

from __future__ import annotations

import csv
import io
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from bot.app import create_app
from bot.services import Services
from knowledge.ingestion import IngestOptions
from tests.bot.api.conftest import REFUSED, send, services_over, start
from tests.customer_tokens import as_customer

QUESTION = "鯨魚罐頭有賣嗎？"
FIRST, SECOND = "目前不提供月球配送。", "月球配送將於明年開放。"


@pytest.fixture
def services(demo_data_dir: Path, tmp_path: Path) -> Iterator[Services]:
    """The app over a copy of the demo knowledge base of its own: these tests change it."""
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    yield from services_over(data, tmp_path)


def workbook(rows: list[tuple[str, str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "特殊配送"
    sheet.append(("問題", "答案"))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: TestClient, name: str, data: bytes, **params: Any) -> Any:
    return client.post("/api/admin/sources", files={"file": (name, data)}, params=params)


def finished(client: TestClient, response: Any) -> dict[str, Any]:
    """Poll the job of a 202 answer until it is done; the finished job."""
    assert response.status_code in (200, 202), response.text
    job_id = response.json()["job"]["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/admin/ingest/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.05)
    pytest.fail(f"ingest job {job_id} did not finish")


def answer(client: TestClient, question: str) -> dict[str, Any]:
    return send(client, start(client), question)


def test_admin_endpoints_refuse_anonymous_callers_and_agents(
    client: TestClient, services: Services
) -> None:
    for path in ("/api/admin/sources", "/api/admin/drafts", "/api/admin/gaps"):
        assert client.get(path).json()["code"] == "not_logged_in"
    services.accounts.add("mei", "correct horse battery", "agent", "美玲")
    client.post("/api/auth/login", json={"username": "mei", "password": "correct horse battery"})
    refused = client.get("/api/admin/sources")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_an_upload_then_a_changed_upload_change_the_answer(admin: TestClient) -> None:
    job = finished(admin, upload(admin, "moon.xlsx", workbook([(QUESTION, FIRST)])))
    assert job["state"] == "done"
    assert [(f["source"], f["outcome"], f["added"]) for f in job["files"]] == [
        ("moon.xlsx", "added", 1)
    ]
    assert answer(admin, QUESTION)["reply"] == FIRST
    listed = {s["name"]: s for s in admin.get("/api/admin/sources").json()["sources"]}
    assert listed["moon.xlsx"]["items"] == 1 and listed["moon.xlsx"]["managed"]

    taken = upload(admin, "moon.xlsx", workbook([(QUESTION, SECOND)]))
    assert taken.status_code == 409 and taken.json()["code"] == "source_exists"
    job = finished(
        admin, upload(admin, "moon.xlsx", workbook([(QUESTION, SECOND)]), replace="true")
    )
    assert [(f["outcome"], f["changed"]) for f in job["files"]] == [("changed", 1)]
    assert answer(admin, QUESTION)["reply"] == SECOND

    downloaded = admin.get("/api/admin/sources/moon.xlsx/file")
    assert downloaded.status_code == 200
    sheet = load_workbook(io.BytesIO(downloaded.content)).active
    assert sheet is not None and sheet["B2"].value == SECOND

    again = finished(admin, admin.post("/api/admin/ingest"))
    outcomes = {f["source"]: (f["outcome"], f["unchanged"]) for f in again["files"]}
    assert outcomes["moon.xlsx"] == ("unchanged", 1)

    removed = admin.delete("/api/admin/sources/moon.xlsx")
    assert removed.json() == {"name": "moon.xlsx", "removed_items": 1}
    after = answer(admin, QUESTION)
    assert after["status"] == "refused", after
    assert admin.delete("/api/admin/sources/moon.xlsx").status_code == 404


def test_a_corrupt_replacement_keeps_what_was_serving(admin: TestClient) -> None:
    finished(admin, upload(admin, "moon.xlsx", workbook([(QUESTION, FIRST)])))
    job = finished(
        admin, upload(admin, "moon.xlsx", b"PK\x03\x04 not really a workbook", replace="true")
    )
    [report] = job["files"]
    assert report["outcome"] == "failed" and report["error"]
    assert any("previous version" in p for p in report["problems"])
    assert answer(admin, QUESTION)["reply"] == FIRST
    downloaded = admin.get("/api/admin/sources/moon.xlsx/file").content
    assert downloaded.startswith(b"PK") and b"not really" not in downloaded


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("setup.exe", b"MZ\x90\x00", 400, "unsupported_file"),
        ("empty.csv", b"", 400, "empty_file"),
        # kept as passwd.csv, inside the sources folder
        ("../../etc/passwd.csv", "問題,答案\n鯨魚罐頭？,沒有\n".encode(), 202, None),
    ],
)
def test_bad_uploads_are_refused_clearly(
    admin: TestClient, services: Services, name: str, data: bytes, status: int, code: str | None
) -> None:
    response = upload(admin, name, data)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code
    else:
        finished(admin, response)
        assert services.library.is_managed("passwd.csv")
        assert admin.get("/api/admin/sources/passwd.csv/file").status_code == 200
    kept = [f.name for f in services.library.managed()]
    assert kept == (["passwd.csv"] if code is None else [])


def test_a_file_over_the_limit_is_refused(admin: TestClient, services: Services) -> None:
    small = replace(services.library.options, max_bytes=1024)
    assert isinstance(small, IngestOptions)
    services.library.options = small
    response = upload(admin, "big.csv", b"q,a\n" + b"x" * 2048)
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not services.library.is_managed("big.csv") and not services.library.managed()


def test_an_agents_draft_approved_is_answered(admin: TestClient, services: Services) -> None:
    services.accounts.add("mei", "correct horse battery", "agent", "美玲")
    with as_customer(TestClient(create_app(services))) as agent:
        agent.post("/api/auth/login", json={"username": "mei", "password": "correct horse battery"})
        saved = agent.post("/api/agent/drafts", json={"question": QUESTION, "answer": FIRST})
        assert saved.status_code == 201
    assert answer(admin, QUESTION)["status"] == "refused"

    [draft] = admin.get("/api/admin/drafts", params={"status": "pending"}).json()["drafts"]
    edited = admin.patch(f"/api/admin/drafts/{draft['id']}", json={"answer": SECOND})
    assert edited.json()["answer"] == SECOND
    approved = admin.post(f"/api/admin/drafts/{draft['id']}/approve")
    assert approved.json()["draft"]["status"] == "approved"
    assert finished(admin, approved)["state"] == "done"
    assert answer(admin, QUESTION)["reply"] == SECOND
    twice = admin.post(f"/api/admin/drafts/{draft['id']}/approve")
    assert twice.status_code == 409 and twice.json()["code"] == "draft_not_pending"

    empty = admin.post("/api/admin/drafts", json={"question": "週末有營業嗎？"}).json()
    refused = admin.post(f"/api/admin/drafts/{empty['id']}/approve")
    assert refused.status_code == 400 and refused.json()["code"] == "empty_draft"
    assert admin.post("/api/admin/drafts/nope/approve").status_code == 404


def test_unanswered_questions_become_a_draft(admin: TestClient) -> None:
    for _ in range(2):
        assert answer(admin, REFUSED)["status"] == "refused"
    groups = admin.get("/api/admin/gaps").json()["groups"]
    group = next(g for g in groups if g["label"] == REFUSED)
    assert group["count"] == 2 and group["reasons"]["refused"] == 2
    draft = admin.post(f"/api/admin/gaps/{group['id']}/draft", json={})
    assert draft.status_code == 201 and draft.json()["question"] == REFUSED
    exported = admin.get("/api/admin/gaps.xlsx")
    assert exported.status_code == 200
    assert load_workbook(io.BytesIO(exported.content)).sheetnames


def test_the_conversations_behind_a_number_and_the_exports(admin: TestClient) -> None:
    refused = start(admin)
    send(admin, refused, REFUSED)
    behind = admin.get("/api/admin/conversations", params={"metric": "refused"}).json()
    assert [c["id"] for c in behind["conversations"]] == [refused]
    assert behind["conversations"][0]["first_message"] == REFUSED

    exported = admin.get("/api/admin/metrics.csv")
    rows = dict(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows["engaged_conversations"] == "1" and rows["refused_turns"] == "1"
    book = load_workbook(io.BytesIO(admin.get("/api/admin/metrics.xlsx").content))
    assert book["metrics"]["A1"].value == "metric"
    empty = admin.get("/api/metrics", params={"from": "2001-01-01", "to": "2001-01-31"}).json()
    assert empty["engaged_conversations"] == 0 and empty["deflection_rate"] is None


def test_files_are_sent_with_a_type_the_spec_documents(admin: TestClient) -> None:
    # found by the API fuzz test: the exports and downloads were documented as JSON
    finished(admin, upload(admin, "moon.xlsx", workbook([(QUESTION, FIRST)])))
    paths = admin.get("/openapi.json").json()["paths"]
    for url, route in [
        ("/api/admin/sources/moon.xlsx/file", "/api/admin/sources/{name}/file"),
        ("/api/admin/metrics.csv", "/api/admin/metrics.csv"),
        ("/api/admin/metrics.xlsx", "/api/admin/metrics.xlsx"),
        ("/api/admin/gaps.xlsx", "/api/admin/gaps.xlsx"),
    ]:
        response = admin.get(url)
        assert response.status_code == 200, url
        sent = response.headers["content-type"].split(";")[0]
        documented = paths[route]["get"]["responses"]["200"]["content"]
        assert sent in documented and "application/json" not in documented, (url, sent)


def test_the_admins_errors_speak_both_languages(admin: TestClient) -> None:
    refused = upload(admin, "notes.docx", b"PK\x03\x04")
    assert refused.json()["messages"]["zh"].startswith("無法讀取這種檔案")
    assert "PDF" in refused.json()["messages"]["en"]


def test_ingest_jobs_are_cancelled_queued_or_running_and_the_cancel_is_audited(
    admin: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = services.library
    real_sync = library.kb.sync_source
    entered, release = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        """The real sync, after the test lets it go (a job that takes its time)."""
        entered.set()
        assert release.wait(60)
        return real_sync(*args, **kwargs)

    monkeypatch.setattr(library.kb, "sync_source", held)
    running = upload(admin, "moon.xlsx", workbook([(QUESTION, FIRST)])).json()["job"]
    assert entered.wait(60)
    queued = upload(admin, "mars.xlsx", workbook([("火星有賣嗎？", SECOND)])).json()["job"]
    assert admin.get(f"/api/admin/ingest/{queued['id']}").json()["state"] == "queued"

    response = admin.post(f"/api/admin/ingest/{queued['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["job"]["state"] == "cancelled"
    response = admin.post(f"/api/admin/ingest/{running['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["job"]["state"] == "running" and response.json()["job"]["cancelling"]
    release.set()
    deadline = time.monotonic() + 60
    while admin.get(f"/api/admin/ingest/{running['id']}").json()["state"] == "running":
        assert time.monotonic() < deadline, "the cancelled job never stopped"
        time.sleep(0.05)
    assert admin.get(f"/api/admin/ingest/{running['id']}").json()["state"] == "cancelled"

    listed = {s["name"] for s in admin.get("/api/admin/sources").json()["sources"]}
    assert not listed & {"moon.xlsx", "mars.xlsx"}
    for name in ("moon.xlsx", "mars.xlsx"):
        assert admin.get(f"/api/admin/sources/{name}/file").status_code == 404
    assert answer(admin, QUESTION)["reply"] != FIRST

    again = admin.post(f"/api/admin/ingest/{running['id']}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "job_ended"
    unknown = admin.post("/api/admin/ingest/nosuchjob/cancel")
    assert unknown.status_code == 404 and unknown.json()["code"] == "job_not_found"
    audit = admin.get("/api/admin/audit", params={"action": "knowledge_ingest_cancelled"})
    targets = [e["target"] for e in audit.json()["entries"]]
    assert sorted(targets) == sorted([queued["id"], running["id"]])
