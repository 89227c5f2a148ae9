"""The store keeps a picture without its metadata and records the kept file's size and
digest; a conversation keeps at most so many pictures and bytes, and one more is refused with
nothing written."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.answering.texts import say
from bot.attachments.images import ImageRefused
from bot.attachments.store import AttachmentStore
from bot.conversation.events import CustomerSentImage, event_from
from tests.bot.attachments.pictures import SECRETS, phone_jpeg, picture, pixels

LIMIT = 5 * 1_048_576


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_the_kept_file_is_the_stripped_picture_and_its_event_says_so(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path, LIMIT)
    sent = phone_jpeg()
    stored = store.accept("c1", sent)
    [kept] = files(tmp_path)
    content = kept.read_bytes()
    assert content == store.read("c1", stored.id)
    assert not any(s in content for s in SECRETS)
    assert pixels(content) == pixels(sent)
    fields = stored.event_fields()
    assert (
        fields["sha256"] == hashlib.sha256(content).hexdigest() != hashlib.sha256(sent).hexdigest()
    )
    assert fields["size"] == len(content) < len(sent)
    assert fields["metadata_removed"] is True
    assert (fields["width"], fields["height"]) == (48, 40)


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


def test_a_conversation_keeps_at_most_so_many_pictures(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path, LIMIT, max_pictures=2, max_conversation_bytes=LIMIT)
    data = picture("png")
    store.accept("c1", data)
    store.accept("c1", data)
    refused = quota_refusal(store, "c1", data)
    assert refused.code == "image_quota_reached"
    assert refused.values["count"] == 2 and refused.values["limit"] == "5"
    assert len(files(tmp_path)) == 2  # nothing written, not even a partial file
    assert store.usage("c1")[0] == 2
    store.accept("c2", data)  # another conversation has its own room
    en = say(refused.key, "en", **refused.values)
    zh = say(refused.key, "zh", **refused.values)
    assert "2 pictures" in en and "5 MB" in en
    assert "2 張" in zh and "5 MB" in zh


def test_a_conversation_keeps_at_most_so_many_bytes(tmp_path: Path) -> None:
    photo = phone_jpeg()
    one = AttachmentStore(tmp_path / "probe", LIMIT).accept("c", photo).info.size
    # room for two stripped photos, though two photos as sent would not fit
    store = AttachmentStore(tmp_path / "kept", LIMIT, max_conversation_bytes=2 * one)
    assert 2 * len(photo) > 2 * one
    store.accept("c1", photo)
    store.accept("c1", photo)
    assert store.usage("c1") == (2, 2 * one)
    assert quota_refusal(store, "c1", picture("gif", (4, 4))).code == "image_quota_reached"
    assert store.usage("c1") == (2, 2 * one)
    # a bad picture is refused for what it is, quota or not
    assert quota_refusal(store, "c1", b"").code == "image_empty"
