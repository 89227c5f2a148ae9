"""Where accepted images are kept: the `attachments` table of the SQL database every worker
shares (KEFU_DATABASE_URL; SQLite under the data directory when unset), one row per picture
with its conversation, so a picture sent through one worker is served by any other and nothing
that matters stays on a worker's disk.

The attachment id is random (128 bits, hex); nothing the client sent (its file name, its
declared type) is kept. A row is written in one transaction, so a crash never leaves half a
picture under a real id. Erasing a customer and the retention job delete a conversation's rows
in the transaction that anonymises it (bot/privacy/).

What is kept is the picture without its metadata (bot/attachments/metadata.py): the size and
SHA-256 its event records are the kept content's. A conversation keeps at most `max_pictures`
pictures and `max_conversation_bytes` in all; one more is refused (image_quota_reached). The
callers hold the conversation's lock (across workers) while they accept, so two uploads at once
cannot both take the last room.

Older versions kept the files under `<data dir>/attachments/<conversation id>/<attachment id>`;
`take_over` moves such files into the table once, on start (bot/app.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.attachments.images import ImageInfo, ImageRefused, check_image, sniff_type
from bot.attachments.metadata import MetadataDamaged, without_metadata
from bot.conversation.events import now
from bot.conversation.sql import conversations, writer
from knowledge.database import UtcDateTime, metadata

log = logging.getLogger(__name__)

ATTACHMENT_ID = re.compile(r"^[0-9a-f]{32}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# In the conversation store's schema (migration 0015).
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


class AttachmentNotFound(LookupError):
    def __init__(self, attachment_id: str) -> None:
        super().__init__(f"no attachment {attachment_id!r}")
        self.attachment_id = attachment_id


@dataclass(frozen=True)
class StoredImage:
    id: str
    info: ImageInfo
    sha256: str

    def event_fields(self) -> dict[str, Any]:
        """The fields of the ImageShared event that records it."""
        return {
            "attachment_id": self.id,
            "content_type": self.info.type.content_type,
            "size": self.info.size,
            "width": self.info.width,
            "height": self.info.height,
            "sha256": self.sha256,
            "metadata_removed": True,
        }


class AttachmentStore:
    def __init__(
        self,
        engine: Engine,
        max_bytes: int,
        max_pictures: int | None = None,
        max_conversation_bytes: int | None = None,
    ) -> None:
        self.engine = engine
        self.max_bytes = max_bytes  # one picture, as sent
        self.max_pictures = max_pictures  # per conversation; None: no limit
        self.max_conversation_bytes = max_conversation_bytes  # kept, per conversation

    def accept(self, conversation_id: str, data: bytes) -> StoredImage:
        """Check the image, remove its metadata and keep it; ImageRefused when it is none
        kefu keeps, or the conversation holds as many pictures as it may."""
        sent = check_image(data, self.max_bytes)
        try:
            data = without_metadata(data, sent.type)
        except MetadataDamaged:
            raise ImageRefused("image_damaged") from None
        info = check_image(data, self.max_bytes)  # still whole, and its kept size
        _check_conversation_id(conversation_id)
        attachment_id = secrets.token_hex(16)
        with writer(self.engine).begin() as conn:
            self._within_quota(conn, conversation_id, info.size)
            conn.execute(
                insert(attachments).values(
                    id=attachment_id,
                    conversation_id=conversation_id,
                    content_type=info.type.content_type,
                    size=info.size,
                    content=data,
                    created_at=now(),
                )
            )
        return StoredImage(attachment_id, info, hashlib.sha256(data).hexdigest())

    def usage(self, conversation_id: str) -> tuple[int, int]:
        """How many pictures the conversation keeps, and their bytes."""
        with self.engine.connect() as conn:
            return _usage(conn, conversation_id)

    def _within_quota(self, conn: Connection, conversation_id: str, size: int) -> None:
        count, total = _usage(conn, conversation_id)
        over_count = self.max_pictures is not None and count + 1 > self.max_pictures
        limit = self.max_conversation_bytes
        if over_count or (limit is not None and total + size > limit):
            log.info("attachments.quota_reached pictures=%d bytes=%d", count, total)
            raise ImageRefused(
                "image_quota_reached",
                count=self.max_pictures if self.max_pictures is not None else "-",
                limit=f"{limit / 1_048_576:g}" if limit is not None else "-",
            )

    def read(self, conversation_id: str, attachment_id: str) -> bytes:
        """The kept bytes. Raises AttachmentNotFound."""
        return read(self.engine, conversation_id, attachment_id)


def read(engine: Engine, conversation_id: str, attachment_id: str) -> bytes:
    """The kept bytes of one of the conversation's pictures, whether or not pictures are taken
    now (a customer's copy holds them all the same). Raises AttachmentNotFound."""
    if not ATTACHMENT_ID.match(attachment_id):
        raise AttachmentNotFound(attachment_id)
    with engine.connect() as conn:
        content = conn.execute(
            select(attachments.c.content).where(
                attachments.c.id == attachment_id,
                attachments.c.conversation_id == conversation_id,
            )
        ).scalar_one_or_none()
    if content is None:
        raise AttachmentNotFound(attachment_id)
    return bytes(content)


def forget(conn: Connection, conversation_ids: list[str]) -> int:
    """Delete the pictures of these conversations in the caller's (write) transaction; how
    many there were."""
    if not conversation_ids:
        return 0
    count = conn.execute(
        delete(attachments).where(attachments.c.conversation_id.in_(conversation_ids))
    ).rowcount
    if count:
        log.info("attachments.forgotten pictures=%d", count)
    return count


def take_over(engine: Engine, folder: Path) -> int:
    """Move the pictures an older version kept as files under `folder` (one sub-folder per
    conversation) into the table; how many were taken. A file is deleted once its row is
    committed (or already there: another worker took it first); the files of conversations
    anonymised since are deleted without being taken; anything else (a partial file, something
    not a picture) is left where it is."""
    if not folder.is_dir():
        return 0
    taken = 0
    for held in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not CONVERSATION_ID.match(held.name):
            continue
        with engine.connect() as conn:
            anonymised = conn.execute(
                select(conversations.c.anonymised_at).where(conversations.c.id == held.name)
            ).scalar_one_or_none()
        for file in sorted(p for p in held.iterdir() if p.is_file()):
            if not ATTACHMENT_ID.match(file.name):
                continue
            if anonymised is None and not _take(engine, held.name, file):
                continue
            taken += anonymised is None
            try:
                file.unlink()
            except OSError as error:  # read-only: taken all the same, and again harmlessly
                log.warning("attachments.take_over.not_deleted error=%s", error)
        with contextlib.suppress(OSError):
            held.rmdir()  # when empty
    if taken:
        log.info("attachments.taken_over pictures=%d", taken)
    return taken


def _take(engine: Engine, conversation_id: str, file: Path) -> bool:
    """One file into the table; False when it is no picture (left where it is)."""
    content = file.read_bytes()
    kind = sniff_type(content)
    if kind is None:
        log.warning("attachments.take_over.not_a_picture")
        return False
    try:
        with writer(engine).begin() as conn:
            conn.execute(
                insert(attachments).values(
                    id=file.name,
                    conversation_id=conversation_id,
                    content_type=kind.content_type,
                    size=len(content),
                    content=content,
                    created_at=now(),
                )
            )
    except IntegrityError:
        pass  # taken already, by another worker starting beside this one
    return True


def _usage(conn: Connection, conversation_id: str) -> tuple[int, int]:
    count, total = conn.execute(
        select(func.count(), func.coalesce(func.sum(attachments.c.size), 0)).where(
            attachments.c.conversation_id == conversation_id
        )
    ).one()
    return int(count), int(total)


def _check_conversation_id(conversation_id: str) -> None:
    if not CONVERSATION_ID.match(conversation_id):
        raise AttachmentNotFound(conversation_id)
