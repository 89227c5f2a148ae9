"""The store keeps a picture without its metadata, in the SQL database, and records the kept
content's size and digest; a conversation keeps at most so many pictures and bytes, and one
more is refused with nothing written; forgetting a conversation deletes its pictures only.
Pictures an older version kept as files are taken into the table once, the files of
anonymised conversations are deleted instead, and anything else is left alone. On SQLite and
PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.answering.texts import say
from bot.attachments.images import ImageRefused
from bot.attachments.store import (
    AttachmentNotFound,
    AttachmentStore,
    attachments,
    forget,
    take_over,
)
from bot.conversation.events import CustomerSentImage, event_from, now
from bot.conversation.sql import conversations, writer
from tests.bot.attachments.conftest import LIMIT
from tests.bot.attachments.pictures import SECRETS, phone_jpeg, picture, pixels


def rows(store: AttachmentStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(attachments)).scalar_one())


def test_the_kept_picture_is_the_stripped_one_and_its_event_says_so(
    kept: AttachmentStore,
) -> None:
    sent = phone_jpeg()
    stored = kept.accept("c1", sent)
    content = kept.read("c1", stored.id)
    assert rows(kept) == 1
    assert not any(s in content for s in SECRETS)
    assert pixels(content) == pixels(sent)
    fields = stored.event_fields()
    assert (
        fields["sha256"] == hashlib.sha256(content).hexdigest() != hashlib.sha256(sent).hexdigest()
    )
    assert fields["size"] == len(content) < len(sent)
    assert fields["metadata_removed"] is True
    assert (fields["width"], fields["height"]) == (48, 40)
    # only under its own conversation, and only by a well-formed id
    for conversation, attachment in (("c2", stored.id), ("c1", "f" * 32), ("c1", "../c1")):
        with pytest.raises(AttachmentNotFound):
            kept.read(conversation, attachment)


def test_events_from_before_removal_still_read_and_say_kept_as_sent() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    old = {
        "attachment_id": "a" * 32,
        "content_type": "image/jpeg",
        "size": 10,
        "width": 2,
        "height": 2,
        "sha256": "0" * 64,
    }
    event = event_from("customer_sent_image", "c1", at, old)
    assert isinstance(event, CustomerSentImage) and event.metadata_removed is False
    new = CustomerSentImage(conversation_id="c1", at=at, **{**old, "metadata_removed": True})
    assert new.payload()["metadata_removed"] is True
    assert event_from("customer_sent_image", "c1", at, new.payload()) == new


def quota_refusal(store: AttachmentStore, conversation: str, data: bytes) -> ImageRefused:
    with pytest.raises(ImageRefused) as caught:
        store.accept(conversation, data)
    return caught.value


def test_a_conversation_keeps_at_most_so_many_pictures(database) -> None:
    store = AttachmentStore(database.engine, LIMIT, max_pictures=2, max_conversation_bytes=LIMIT)
    data = picture("png")
    store.accept("c1", data)
    store.accept("c1", data)
    refused = quota_refusal(store, "c1", data)
    assert refused.code == "image_quota_reached"
    assert refused.values["count"] == 2 and refused.values["limit"] == "5"
    assert rows(store) == 2  # nothing written
    assert store.usage("c1")[0] == 2
    store.accept("c2", data)  # another conversation has its own room
    en = say(refused.key, "en", **refused.values)
    zh = say(refused.key, "zh", **refused.values)
    assert "2 pictures" in en and "5 MB" in en
    assert "2 張" in zh and "5 MB" in zh


def test_a_conversation_keeps_at_most_so_many_bytes(database) -> None:
    photo = phone_jpeg()
    one = AttachmentStore(database.engine, LIMIT).accept("probe", photo).info.size
    # room for two stripped photos, though two photos as sent would not fit
    store = AttachmentStore(database.engine, LIMIT, max_conversation_bytes=2 * one)
    assert 2 * len(photo) > 2 * one
    store.accept("c1", photo)
    store.accept("c1", photo)
    assert store.usage("c1") == (2, 2 * one)
    assert quota_refusal(store, "c1", picture("gif", (4, 4))).code == "image_quota_reached"
    assert store.usage("c1") == (2, 2 * one)
    # a bad picture is refused for what it is, quota or not
    assert quota_refusal(store, "c1", b"").code == "image_empty"


def test_forgetting_conversations_deletes_their_pictures_only(kept: AttachmentStore) -> None:
    mine = [kept.accept("c1", picture("png")).id, kept.accept("c2", picture("gif")).id]
    theirs = kept.accept("c3", picture("webp")).id
    with writer(kept.engine).begin() as conn:
        assert forget(conn, ["c1", "c2"]) == 2
        assert forget(conn, []) == 0
    assert kept.usage("c1") == kept.usage("c2") == (0, 0)
    for conversation, attachment in zip(("c1", "c2"), mine, strict=True):
        with pytest.raises(AttachmentNotFound):
            kept.read(conversation, attachment)
    assert kept.read("c3", theirs) == picture("webp")


def old_file(root: Path, conversation: str, attachment: str, data: bytes) -> Path:
    """A picture where an older version kept it."""
    (root / conversation).mkdir(parents=True, exist_ok=True)
    path = root / conversation / attachment
    path.write_bytes(data)
    return path


def test_pictures_kept_as_files_by_an_older_version_are_taken_into_the_table(
    kept: AttachmentStore, database, tmp_path: Path
) -> None:
    root = tmp_path / "attachments"
    photo, drawing = picture("jpeg", (20, 10)), picture("png")
    live = database.create("web").id
    gone = database.create("web").id
    old_file(root, live, "a" * 32, photo)
    old_file(root, live, "b" * 32, drawing)
    erased = old_file(root, gone, "c" * 32, photo)
    partial = old_file(root, live, f".{'d' * 32}.part", photo[:20])
    stranger = old_file(root, live, "e" * 32, b"<html>not a picture</html>")
    with writer(database.engine).begin() as conn:
        conn.execute(update(conversations).where(conversations.c.id == gone).values(
            anonymised_at=now()
        ))  # fmt: skip

    assert take_over(kept.engine, root) == 2
    assert kept.read(live, "a" * 32) == photo
    assert kept.read(live, "b" * 32) == drawing
    assert kept.usage(live) == (2, len(photo) + len(drawing))
    assert not (root / live / ("a" * 32)).exists()
    # an anonymised conversation's file is deleted, not taken; what is no picture stays
    assert not erased.exists() and not erased.parent.exists()
    with pytest.raises(AttachmentNotFound):
        kept.read(gone, "c" * 32)
    assert partial.exists() and stranger.exists()
    # once: a second start (or another worker taking the same files) changes nothing
    old_file(root, live, "a" * 32, photo)  # a worker that stopped before deleting it
    assert take_over(kept.engine, root) == 1
    assert rows(kept) == 2 and not (root / live / ("a" * 32)).exists()
    assert take_over(kept.engine, tmp_path / "never-there") == 0
