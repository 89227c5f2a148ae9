"""Retention with the clock moved forward: the metrics computed from the log are the same
before and after the purge, the texts and the customer ids are gone, on SQLite and
PostgreSQL; the job runs from `kefu privacy purge` and inside the app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as kefu
from bot.conversation.sql import SqlConversationStore, conversations
from bot.privacy.retention import TEXT_FIELDS, Retention
from bot.reports.metrics import compute_metrics
from bot.services import Services, build_services
from bot.settings import ConversationSettings, PrivacySettings, Settings
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import ANSWERED, REFUSED, signed, start

WINDOW = timedelta(minutes=30)
ALICE = "alice@example.com"


def _metrics(store: Any, at: datetime) -> dict[str, Any]:
    found = compute_metrics(store.log(), assumed_window=WINDOW, now=at).as_dict()
    refused = found["unanswered"].pop("top_refused_questions")
    # the question texts are gone after the purge; how many were refused stays
    found["unanswered"]["counted"] = sum(q["count"] for q in refused)
    return found


def _row(store: Any, conversation_id: str) -> Any:
    """The conversation's row, anonymised or not (the store answers only for open ones)."""
    with store.engine.connect() as conn:
        return conn.execute(
            select(conversations).where(conversations.c.id == conversation_id)
        ).one()


def _converse(client: TestClient) -> list[str]:
    """Two customers' conversations: answered and rated; refused, handed off, answered by a
    person, resolved and surveyed."""
    first = start(client, **signed(ALICE))
    said = client.post(f"/api/conversations/{first}/messages", json={"text": ANSWERED}).json()
    client.post(
        f"/api/conversations/{first}/feedback",
        json={"helpful": True, "turn_seq": said["turn_seq"]},
    )
    second = start(client, **signed("bob-line-id"))
    for text in (REFUSED, "我的手機 0912-345-678，卡號 4111 1111 1111 1111"):
        client.post(f"/api/conversations/{second}/messages", json={"text": text})
    client.post(f"/api/conversations/{second}/handoff", json={})
    for path, body in (
        ("claim", None),
        ("messages", {"text": "王先生您好，我幫您查"}),
        ("notes", {"text": "客戶很急"}),
        ("resolve", None),
    ):
        response = client.post(f"/api/agent/conversations/{second}/{path}", json=body)
        assert response.status_code in (200, 201), (path, response.text)
    survey = {"csat": 4, "ces": 6, "comment": "謝謝 amy.lin@gmail.com"}
    assert client.post(f"/api/conversations/{second}/survey", json=survey).status_code == 201
    return [first, second]


def test_purge_keeps_the_metrics_and_removes_texts_and_identities(
    any_admin: TestClient, any_services: Services
) -> None:
    store = any_services.store
    ids = _converse(any_admin)
    nothing_old = Retention(store, 365).purge()  # type: ignore[arg-type]
    assert nothing_old.conversations == 0

    later = datetime.now(UTC) + timedelta(days=400)
    before = _metrics(store, later)
    assert before["engaged_conversations"] == 2 and before["handed_off_conversations"] == 1
    assert before["csat"]["answers"] == 1 and before["refused_turns"] >= 1
    report = Retention(store, 365).purge(later)  # type: ignore[arg-type]
    assert report.conversations == 2
    assert _metrics(store, later) == before

    for _, event in store.log():
        for name in TEXT_FIELDS:
            assert getattr(event, name, "") == "", (event.kind, name)
        assert getattr(event, "customer_id", None) is None
    assert store.conversations(customer_id=ALICE) == []
    assert all(_row(store, cid).customer_id is None for cid in ids)
    for cid in ids:  # nobody opens an anonymised conversation any more
        assert any_admin.get(f"/api/conversations/{cid}").status_code == 404
        assert any_admin.get(f"/api/agent/conversations/{cid}").status_code == 404
    logged = str([event.payload() for _, event in store.log()])
    for gone in ("0912-345-678", "王先生", "謝謝", "gmail", "1111", ALICE):
        assert gone not in logged
    # the staff actions of this test are on the audit log
    actions = {e["action"] for e in any_admin.get("/api/admin/audit").json()["entries"]}
    assert {"login", "claim", "reply", "note", "resolve"} <= actions
    assert Retention(store, 365).purge(later).conversations == 0  # done once


def test_the_command_line_purges_and_is_audited(tmp_path: Path, demo_data_dir: Path) -> None:
    data = tmp_path / "data"
    store = SqlConversationStore.sqlite(data)
    try:
        conversation = store.create("web", customer_id=ALICE)
    finally:
        store.close()
    runner = CliRunner()
    kept = runner.invoke(kefu, ["privacy", "purge", "--data-dir", str(data)])
    assert kept.exit_code == 0, kept.output
    assert "anonymised 0 conversations" in kept.output
    as_of = (datetime.now(UTC) + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%S")
    purged = runner.invoke(
        kefu, ["privacy", "purge", "--data-dir", str(data), "--days", "30", "--as-of", as_of]
    )
    assert purged.exit_code == 0, purged.output
    assert "anonymised 1 conversations" in purged.output
    store = SqlConversationStore.sqlite(data)
    try:
        assert _row(store, conversation.id).customer_id is None
        from bot.access.audit import AuditLog

        entry = AuditLog(store.engine).entries(action="privacy_purge")[0]
        assert entry.actor.startswith("cli")
        assert entry.detail["conversations"] == 1 and entry.detail["retention_days"] == 30
    finally:
        store.close()


def test_the_app_purges_while_it_runs(demo_data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=demo_data_dir,
        conversation=ConversationSettings(
            database_url=f"sqlite+pysqlite:///{tmp_path / 'conversations.db'}"
        ),
        privacy=PrivacySettings(retention_days=30),
    )
    services = build_services(settings, embedders=[HashingEmbedder("e5")])
    try:
        store = services.store
        assert isinstance(store, SqlConversationStore)
        old = store.create("web", customer_id=ALICE)
        recent = store.create("web", customer_id="bob")
        with store.engine.begin() as conn:
            conn.execute(
                update(conversations)
                .where(conversations.c.id == old.id)
                .values(updated_at=datetime.now(UTC) - timedelta(days=31))
            )
        with TestClient(create_app(services)) as client:
            assert client.get("/api/health").status_code == 200
            deadline = datetime.now(UTC) + timedelta(seconds=10)
            while _row(store, old.id).anonymised_at is None and datetime.now(UTC) < deadline:
                client.get("/api/health")
        assert _row(store, old.id).customer_id is None
        assert store.get(recent.id).customer_id == "bob"
    finally:
        services.close()
