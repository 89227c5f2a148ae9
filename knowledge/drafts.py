"""Knowledge drafts: a question and an answer proposed for the knowledge base (by an agent
from a reply, or from the unanswered-questions report), waiting for an admin to approve."""

from __future__ import annotations

import builtins
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Column, String, Table, Text, insert, select, update
from sqlalchemy.engine import Engine

from ingest.plain_text import UnsafeText, is_blank, plain_text, strip_controls
from knowledge.database import UtcDateTime, metadata

MAX_CHARS = 4000
DRAFTS_FILE = "knowledge_drafts.xlsx"  # approved drafts, a source like any other
DRAFTS_SHEET = "drafts"


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
    problem: str | None = None  # why its last approval did not get it served


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
    Column("problem", Text),  # migration 0003
)


class DraftNotServed(DraftRejected):
    """Publishing the approved drafts failed; the message says why (for the admin)."""

    def __init__(self, message: str) -> None:
        super().__init__("draft_not_served", message)


class KnowledgeDrafts:
    def __init__(self, engine: Engine, *, mask: Callable[[str], str] | None = None) -> None:
        """`mask` hides personal data in a customer's words (the app passes its redaction)."""
        self._engine = engine
        self._mask = mask or (lambda text: text)
        self._approving = threading.Lock()

    def add(
        self,
        question: str,
        answer: str,
        created_by: str,
        *,
        language: str | None = None,
        conversation_id: str | None = None,
        allow_empty_answer: bool = False,
    ) -> Draft:
        # the question is a customer's words: their phone or e-mail stays out of the knowledge
        question, answer = self._mask(_text(question)), _text(answer)
        if not question or (not answer and not allow_empty_answer):
            raise DraftRejected("empty_draft", "a draft needs both a question and an answer")
        if len(question) > MAX_CHARS or len(answer) > MAX_CHARS:
            raise DraftRejected("draft_too_long", f"at most {MAX_CHARS} characters each")
        at = _now()
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
        query = select(drafts).order_by(drafts.c.created_at.desc(), drafts.c.id)
        if status is not None:
            query = query.where(drafts.c.status == status.value)
        with self._engine.connect() as conn:
            return [_draft(r) for r in conn.execute(query)]

    def get(self, draft_id: str) -> Draft:
        with self._engine.connect() as conn:
            row = conn.execute(select(drafts).where(drafts.c.id == draft_id)).one_or_none()
        if row is None:
            raise DraftRejected("draft_not_found", f"no draft {draft_id!r}")
        return _draft(row)

    def edit(self, draft_id: str, question: str | None, answer: str | None) -> Draft:
        """Change a pending draft's question or answer (an empty answer is allowed while it
        is pending: a group of unanswered questions starts as a question only)."""
        draft = self._pending(draft_id)
        question = draft.question if question is None else _text(question)
        answer = draft.answer if answer is None else _text(answer)
        if not question:
            raise DraftRejected("empty_draft", "a draft needs a question")
        if len(question) > MAX_CHARS or len(answer) > MAX_CHARS:
            raise DraftRejected("draft_too_long", f"at most {MAX_CHARS} characters each")
        with self._engine.begin() as conn:
            conn.execute(
                update(drafts)
                .where(drafts.c.id == draft_id)
                .values(question=question, answer=answer, updated_at=_now())
            )
        return self.get(draft_id)

    def approve(self, draft_id: str, publish: Callable[[builtins.list[Draft]], None]) -> Draft:
        """Approve a pending draft once it is served. `publish` gets every approved draft,
        this one among them, and makes them the knowledge base's (writes the drafts sheet and
        ingests it), raising DraftNotServed when it could not. Only then is the draft marked
        approved; otherwise it stays pending with the reason, and the others are untouched.
        One approval at a time: each publishes the whole set."""
        with self._approving:
            draft = self._pending(draft_id)
            # rows saved before input was normalised may hold control characters
            question, answer = _kept(draft.question), _kept(draft.answer)
            if not question or not answer:
                raise DraftRejected("empty_draft", "write the answer before approving the draft")
            approved = replace(draft, question=question, answer=answer)
            try:
                publish([*self.list(DraftStatus.APPROVED), approved])
            except DraftNotServed as failed:
                self._set(draft_id, DraftStatus.PENDING, problem=str(failed))
                raise
            self._set(draft_id, DraftStatus.APPROVED, question=question, answer=answer)
        return self.get(draft_id)

    def reject(self, draft_id: str) -> Draft:
        self._pending(draft_id)
        self._set(draft_id, DraftStatus.REJECTED)
        return self.get(draft_id)

    def decide(self, draft_id: str, status: DraftStatus) -> Draft:
        """Reject a pending draft; approving one goes through `approve`, which publishes it."""
        if status != DraftStatus.REJECTED:
            raise ValueError("a draft is approved with approve(), which gets it served")
        return self.reject(draft_id)

    def _set(self, draft_id: str, status: DraftStatus, **values: Any) -> None:
        """Move a pending draft to `status` (compare-and-set: a draft is decided once)."""
        if status != DraftStatus.PENDING:
            values["problem"] = None
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(drafts)
                .where(drafts.c.id == draft_id, drafts.c.status == DraftStatus.PENDING.value)
                .values(status=status.value, updated_at=_now(), **values)
            ).rowcount
        if not changed:
            raise DraftRejected("draft_not_pending", "this draft was decided already")

    def _pending(self, draft_id: str) -> Draft:
        draft = self.get(draft_id)
        if draft.status != DraftStatus.PENDING:
            raise DraftRejected("draft_not_pending", f"this draft is {draft.status} already")
        return draft


def write_drafts_sheet(path: Path, approved: list[Draft]) -> None:
    """The approved drafts as an FAQ sheet (問題 / 答案), oldest first, for ingest."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = DRAFTS_SHEET
    sheet.append(("問題", "答案", "編號"))
    for draft in sorted(approved, key=lambda d: (d.created_at, d.id)):
        sheet.append((_kept(draft.question), _kept(draft.answer), draft.id))
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"  # text as typed: "=1+1" is an answer, not a formula
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    book.save(partial)
    partial.replace(path)


def _text(value: str) -> str:
    """A question or an answer as it is kept: plain text, nothing but invisible characters
    counting as empty. A NUL is refused (DraftRejected nul_character)."""
    try:
        value = plain_text(value)
    except UnsafeText as unsafe:
        raise DraftRejected(unsafe.code, str(unsafe)) from None
    return "" if is_blank(value) else value.strip()


def _kept(value: str) -> str:
    """What a stored question or answer can be in the drafts sheet (older rows may hold
    control characters, which an XLSX cell cannot)."""
    value = strip_controls(value)
    return "" if is_blank(value) else value.strip()


def _draft(r: Any) -> Draft:
    return Draft(
        r.id,
        r.question,
        r.answer,
        r.language,
        r.conversation_id,
        DraftStatus(r.status),
        r.created_by,
        r.created_at,
        r.updated_at,
        r.problem,
    )


def _now() -> datetime:
    return datetime.now(UTC)
