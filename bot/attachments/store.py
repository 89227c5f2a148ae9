"""Where accepted images are kept: `<data_dir>/attachments/<conversation id>/<attachment id>`.

The attachment id is random (128 bits, hex); nothing the client sent (its file name, its
declared type) reaches a path. One folder per conversation, so that erasing a customer and the
retention job forget a conversation's files with it (bot/privacy/). Files are written to a
temporary name and renamed, so a crash never leaves half a picture under a real id.

What is kept is the picture without its metadata (bot/attachments/metadata.py): the size and
SHA-256 its event records are the kept file's. A conversation keeps at most `max_pictures`
pictures and `max_conversation_bytes` in all; one more is refused (image_quota_reached).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.attachments.images import ImageInfo, ImageRefused, check_image
from bot.attachments.metadata import MetadataDamaged, without_metadata

log = logging.getLogger(__name__)

ATTACHMENT_ID = re.compile(r"^[0-9a-f]{32}$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
        root: Path,
        max_bytes: int,
        max_pictures: int | None = None,
        max_conversation_bytes: int | None = None,
    ) -> None:
        self.root = root
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
        folder = self._folder(conversation_id)
        self._within_quota(folder, info.size)
        folder.mkdir(parents=True, exist_ok=True)
        attachment_id = secrets.token_hex(16)
        partial = folder / f".{attachment_id}.part"
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, folder / attachment_id)
        return StoredImage(attachment_id, info, hashlib.sha256(data).hexdigest())

    def usage(self, conversation_id: str) -> tuple[int, int]:
        """How many pictures the conversation keeps, and their bytes."""
        return _usage(self._folder(conversation_id))

    def _within_quota(self, folder: Path, size: int) -> None:
        count, total = _usage(folder)
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
        if not ATTACHMENT_ID.match(attachment_id):
            raise AttachmentNotFound(attachment_id)
        try:
            return (self._folder(conversation_id) / attachment_id).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise AttachmentNotFound(attachment_id) from None

    def forget(self, conversation_id: str) -> int:
        """Delete the conversation's files; how many there were."""
        folder = self._folder(conversation_id)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.iterdir() if ATTACHMENT_ID.match(p.name))
        shutil.rmtree(folder)
        log.info("attachments.forgotten files=%d", count)
        return count

    def conversation_ids(self) -> list[str]:
        """The conversations that have a folder of files."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and CONVERSATION_ID.match(p.name)
        )

    def _folder(self, conversation_id: str) -> Path:
        if not CONVERSATION_ID.match(conversation_id):
            raise AttachmentNotFound(conversation_id)
        return self.root / conversation_id


def _usage(folder: Path) -> tuple[int, int]:
    if not folder.is_dir():
        return 0, 0
    sizes = [p.stat().st_size for p in folder.iterdir() if ATTACHMENT_ID.match(p.name)]
    return len(sizes), sum(sizes)
