"""Saved replies: the team's own texts (macros) an agent inserts by typing `/shortcut` in the
reply box. Any agent or admin may add, edit, delete and search them; each remembers who wrote
and who last changed it. None ship by default."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import (
    Column,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from knowledge.database import UtcDateTime, metadata

ReplyLanguage = Literal["zh", "en"]
LANGUAGES: tuple[ReplyLanguage, ...] = ("zh", "en")
MAX_SHORTCUT_CHARS = 32
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 4000
# letters of any script, digits, '-', '_' and '.'; no spaces, no slash after the first
SHORTCUT = re.compile(r"^[\w.-]+$")

# In the conversation store's schema (migration 0004).
saved_replies = Table(
    "saved_replies",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("shortcut", String(MAX_SHORTCUT_CHARS), nullable=False, unique=True),
    Column("title", String(MAX_TITLE_CHARS), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class SavedReply:
    id: str
    shortcut: str  # without the leading slash, lowercase
    title: str
    text: str
    language: ReplyLanguage
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class SavedReplyRejected(ValueError):
    """Bad input or an unknown reply; `code` has texts of its own (error_<code>)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SavedReplies:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, shortcut: str, title: str, text: str, language: str, author: str) -> SavedReply:
        shortcut = normal_shortcut(shortcut)
        at = datetime.now(UTC)
        reply = SavedReply(
            uuid.uuid4().hex,
            shortcut,
            _title(title),
            _body(text),
            _language(language),
            author,
            author,
            at,
            at,
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(saved_replies).values(**reply.__dict__))
        except IntegrityError:
            raise _taken(shortcut) from None
        return reply

    def edit(
        self,
        reply_id: str,
        editor: str,
        *,
        shortcut: str | None = None,
        title: str | None = None,
        text: str | None = None,
        language: str | None = None,
    ) -> SavedReply:
        values: dict[str, object] = {"updated_by": editor, "updated_at": datetime.now(UTC)}
        if shortcut is not None:
            values["shortcut"] = normal_shortcut(shortcut)
        if title is not None:
            values["title"] = _title(title)
        if text is not None:
            values["text"] = _body(text)
        if language is not None:
            values["language"] = _language(language)
        try:
            with self._engine.begin() as conn:
                changed = conn.execute(
                    update(saved_replies).where(saved_replies.c.id == reply_id).values(**values)
                ).rowcount
        except IntegrityError:
            raise _taken(str(values["shortcut"])) from None
        if not changed:
            raise _missing(reply_id)
        return self.get(reply_id)

    def delete(self, reply_id: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(saved_replies).where(saved_replies.c.id == reply_id)
            ).rowcount
        if not gone:
            raise _missing(reply_id)

    def get(self, reply_id: str) -> SavedReply:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(saved_replies).where(saved_replies.c.id == reply_id)
            ).one_or_none()
        if row is None:
            raise _missing(reply_id)
        return _reply(row)

    def search(
        self,
        q: str = "",
        *,
        language: str | None = None,
        shortcut_only: bool = False,
        limit: int = 50,
    ) -> list[SavedReply]:
        """Replies whose shortcut starts with `q` (a leading slash is ignored) or, unless
        `shortcut_only`, whose title or text holds it; shortcut matches first, then by
        shortcut. `language` puts that language's replies first (others still come)."""
        q = q.strip().removeprefix("/").strip()
        query = select(saved_replies)
        prefix = _like_prefix(q.lower())
        if q:
            starts = saved_replies.c.shortcut.like(prefix, escape="\\")
            if shortcut_only:
                query = query.where(starts)
            else:
                holds = f"%{_escape(q.lower())}%"
                query = query.where(
                    or_(
                        starts,
                        func.lower(saved_replies.c.title).like(holds, escape="\\"),
                        func.lower(saved_replies.c.text).like(holds, escape="\\"),
                    )
                )
        with self._engine.connect() as conn:
            found = [_reply(r) for r in conn.execute(query.order_by(saved_replies.c.shortcut))]
        lowered = q.lower()
        found.sort(
            key=lambda r: (
                not (lowered and r.shortcut.startswith(lowered)),
                language is not None and r.language != language,
                r.shortcut,
            )
        )
        return found[:limit]


def normal_shortcut(shortcut: str) -> str:
    """The shortcut as stored: no leading slash, lowercase."""
    shortcut = shortcut.strip().removeprefix("/").lower()
    if not shortcut:
        raise SavedReplyRejected("empty_shortcut", "a saved reply needs a shortcut")
    if len(shortcut) > MAX_SHORTCUT_CHARS:
        raise SavedReplyRejected(
            "shortcut_too_long", f"a shortcut is at most {MAX_SHORTCUT_CHARS} characters"
        )
    if not SHORTCUT.match(shortcut):
        raise SavedReplyRejected(
            "invalid_shortcut",
            "a shortcut is letters, digits, '-', '_' or '.', with no spaces",
        )
    return shortcut


def _title(title: str) -> str:
    title = title.strip()
    if not title:
        raise SavedReplyRejected("empty_saved_reply", "a saved reply needs a title and a text")
    if len(title) > MAX_TITLE_CHARS:
        raise SavedReplyRejected(
            "saved_reply_too_long", f"a title is at most {MAX_TITLE_CHARS} characters"
        )
    return title


def _body(text: str) -> str:
    text = text.strip()
    if not text:
        raise SavedReplyRejected("empty_saved_reply", "a saved reply needs a title and a text")
    if len(text) > MAX_TEXT_CHARS:
        raise SavedReplyRejected(
            "saved_reply_too_long", f"a text is at most {MAX_TEXT_CHARS} characters"
        )
    return text


def _language(language: str) -> ReplyLanguage:
    for known in LANGUAGES:
        if language == known:
            return known
    raise SavedReplyRejected("invalid_language", "the language is zh or en")


def _taken(shortcut: str) -> SavedReplyRejected:
    return SavedReplyRejected("shortcut_taken", f"the shortcut /{shortcut} is taken")


def _missing(reply_id: str) -> SavedReplyRejected:
    return SavedReplyRejected("saved_reply_not_found", f"no saved reply {reply_id!r}")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(text: str) -> str:
    return _escape(text) + "%"


def _reply(row: object) -> SavedReply:
    return SavedReply(
        id=row.id,  # type: ignore[attr-defined]
        shortcut=row.shortcut,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        text=row.text,  # type: ignore[attr-defined]
        language=row.language,  # type: ignore[attr-defined]
        created_by=row.created_by,  # type: ignore[attr-defined]
        updated_by=row.updated_by,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        updated_at=row.updated_at,  # type: ignore[attr-defined]
    )
