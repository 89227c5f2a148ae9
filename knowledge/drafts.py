"""Knowledge drafts: a question and an answer proposed for the knowledge base (by an agent
from a reply, or from the unanswered-questions report), waiting for an admin to approve."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String, Table, Text, insert, select
from sqlalchemy.engine import Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata

MAX_CHARS = 4000


class DraftStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Draft:
    id: str
    question: str
    answer: str
    language: str | None
    conversation_id: str | None
    status: DraftStatus
    created_by: str
    created_at: datetime
    updated_at: datetime


class DraftRejected(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# In the conversation store's schema (migration 0002).
drafts = Table(
    "knowledge_drafts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("language", String(16)),
    Column("conversation_id", String(64)),
    Column("status", String(16), nullable=False, index=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


class KnowledgeDrafts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        question: str,
        answer: str,
        created_by: str,
        *,
        language: str | None = None,
        conversation_id: str | None = None,
    ) -> Draft:
        question, answer = question.strip(), answer.strip()
        if not question or not answer:
            raise DraftRejected("empty_draft", "a draft needs both a question and an answer")
        if len(question) > MAX_CHARS or len(answer) > MAX_CHARS:
            raise DraftRejected("draft_too_long", f"at most {MAX_CHARS} characters each")
        at = now()
        draft = Draft(
            uuid.uuid4().hex,
            question,
            answer,
            language,
            conversation_id,
            DraftStatus.PENDING,
            created_by,
            at,
            at,
        )
        with self._engine.begin() as conn:
            conn.execute(
                insert(drafts).values(
                    id=draft.id,
                    question=question,
                    answer=answer,
                    language=language,
                    conversation_id=conversation_id,
                    status=draft.status.value,
                    created_by=created_by,
                    created_at=at,
                    updated_at=at,
                )
            )
        return draft

    def list(self, status: DraftStatus | None = None) -> list[Draft]:
        query = select(drafts).order_by(drafts.c.created_at.desc())
        if status is not None:
            query = query.where(drafts.c.status == status.value)
        with self._engine.connect() as conn:
            return [
                Draft(
                    r.id,
                    r.question,
                    r.answer,
                    r.language,
                    r.conversation_id,
                    DraftStatus(r.status),
                    r.created_by,
                    r.created_at,
                    r.updated_at,
                )
                for r in conn.execute(query)
            ]
