"""The audit log on SQLite and PostgreSQL: newest first, filtered, and append-only even to a
direct UPDATE or DELETE."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from bot.access.audit import AuditLog, audit_log
from bot.conversation.sql import SqlConversationStore


@pytest.fixture
def store(sql_url: str) -> Iterator[SqlConversationStore]:
    opened = SqlConversationStore(sql_url)
    yield opened
    opened.close()


def test_newest_first_and_filtered(store: SqlConversationStore) -> None:
    audit = AuditLog(store.engine)
    audit.record("mei", "login", role="agent", address="10.0.0.7", outcome=200)
    audit.record("mei", "claim", role="agent", target="c1", outcome=200)
    audit.record("boss", "export_metrics", role="admin", outcome=200, detail={"query": "a=1"})
    entries = audit.entries()
    assert [e.action for e in entries] == ["export_metrics", "claim", "login"]
    assert entries[2].address == "10.0.0.7" and entries[0].detail == {"query": "a=1"}
    assert [e.action for e in audit.entries(actor="mei")] == ["claim", "login"]
    assert [e.actor for e in audit.entries(action="login")] == ["mei"]
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert len(audit.entries(start=hour_ago)) == 3
    assert audit.entries(end=hour_ago) == []
    assert [e.action for e in audit.entries(limit=1, before_id=entries[0].id)] == ["claim"]


def test_nothing_rewrites_the_log(store: SqlConversationStore) -> None:
    audit = AuditLog(store.engine)
    audit.record("mei", "login", outcome=200)
    for statement in (update(audit_log).values(actor="someone else"), delete(audit_log)):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(statement)
    assert [e.actor for e in audit.entries()] == ["mei"]
