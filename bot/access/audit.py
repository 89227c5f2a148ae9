"""The audit log: what staff did, who, when and from which address. Append-only.

Kefu only ever inserts and reads here; the table's triggers (migration 0004) refuse any
UPDATE or DELETE on SQLite and PostgreSQL alike, so not even a bug can rewrite the record.
What is recorded, and when, is decided in one place in the web layer (bot/api/audit.py);
the command line records its user changes here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, String, Table, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer

MAX_ENTRIES = 1000  # one page of the log at most

# In the conversation store's schema (migration 0004).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False, index=True),  # a username, or cli:<os user>
    Column("role", String(16)),
    Column("action", String(64), nullable=False, index=True),
    Column("target", String(255)),  # what was acted on: a conversation, a file, a draft, …
    Column("address", String(64)),  # the client's address
    Column("outcome", Integer, nullable=False),  # the HTTP status given (0 on the command line)
    Column("detail", JSON().with_variant(JSONB(), "postgresql")),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    address: str | None
    outcome: int
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        actor: str,
        action: str,
        *,
        role: str | None = None,
        target: str | None = None,
        address: str | None = None,
        outcome: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with writer(self._engine).begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=now(),
                    actor=actor[:64],
                    role=role,
                    action=action,
                    target=target[:255] if target else None,
                    address=address[:64] if address else None,
                    outcome=outcome,
                    detail=detail or {},
                )
            )

    def entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 200,
        before_id: int | None = None,
    ) -> list[AuditEntry]:
        """Newest first; `before_id` pages back from an entry already seen."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(min(limit, MAX_ENTRIES))
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if start is not None:
            query = query.where(audit_log.c.at >= start)
        if end is not None:
            query = query.where(audit_log.c.at < end)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        with self._engine.connect() as conn:
            return [
                AuditEntry(
                    id=row.id,
                    at=row.at,
                    actor=row.actor,
                    role=row.role,
                    action=row.action,
                    target=row.target,
                    address=row.address,
                    outcome=row.outcome,
                    detail=row.detail or {},
                )
                for row in conn.execute(query)
            ]
