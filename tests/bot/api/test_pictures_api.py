"""Pictures over the real app: a customer sends one with their token, the agent sees it in the
conversation and its packet and sends one back; each is served to its conversation's customer
and to staff only, as an image and nothing else; what is no image is refused and nothing is
kept; a customer's copy holds the pictures, and erasure and retention delete them; a picture
an older version kept as a file is served after the upgrade."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.attachments.store import attachments
from bot.conversation.events import now
from bot.conversation.sql import SqlConversationStore, writer
from bot.services import Services
from bot.settings import AttachmentSettings
from tests.bot.api.conftest import REFUSED, events, send, services_over, signed, start
from tests.bot.attachments.pictures import HTML, SECRETS, SVG, phone_jpeg, picture, pixels
from tests.customer_tokens import as_customer, token_of

PHOTO = picture("jpeg", (64, 48))
REPLY_PICTURE = picture("png", (20, 10))


def database(services: Services) -> Engine:
    assert isinstance(services.store, SqlConversationStore)
    return services.store.engine


def kept_pictures(services: Services) -> list[tuple[str, str, bytes]]:
    """(conversation, attachment id, content) of every picture the database keeps."""
    with database(services).connect() as conn:
        found = conn.execute(
            select(attachments.c.conversation_id, attachments.c.id, attachments.c.content)
        ).all()
    return sorted((c, a, bytes(content)) for c, a, content in found)


def upload(client: TestClient, path: str, data: bytes, **headers: str) -> dict:
    response = client.post(path, content=data, headers=headers)
    return {"status": response.status_code, **response.json()}


def test_a_customer_sends_a_photo_and_sees_it_served_as_an_image_only(
    client: TestClient, services: Services
) -> None:
    conversation = start(client)
    sent = upload(
        client,
        f"/api/conversations/{conversation}/images",
        PHOTO,
        **{"content-type": "text/html", "x-file-name": "../../evil.html"},
    )
    assert sent["status"] == 201, sent
    assert sent["kind"] == "customer_sent_image"
    data = sent["data"]
    assert (data["content_type"], data["width"], data["height"]) == ("image/jpeg", 64, 48)
    assert data["size"] == len(PHOTO)
    attachment = data["attachment_id"]
    # kept with its conversation, under kefu's own name
    assert kept_pictures(services) == [(conversation, attachment, PHOTO)]
    assert [e["kind"] for e in events(client, conversation)][-1] == "customer_sent_image"

    served = client.get(f"/api/conversations/{conversation}/attachments/{attachment}")
    assert served.status_code == 200
    assert served.content == PHOTO
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    policy = served.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy
    disposition = served.headers["content-disposition"]
    assert disposition == f'inline; filename="picture-{attachment[:12]}.jpg"'
    assert "no-store" in served.headers["cache-control"]


def test_a_photo_with_its_gps_position_comes_back_without_it(
    admin: TestClient, services: Services
) -> None:
    conversation = start(admin, **signed("cust-gps"))
    sent = phone_jpeg()  # GPS, camera serial, owner, XMP, a comment, a picture after the end
    assert all(s in sent for s in SECRETS)
    data = upload(admin, f"/api/conversations/{conversation}/images", sent)["data"]
    attachment = data["attachment_id"]
    for path in (
        f"/api/conversations/{conversation}/attachments/{attachment}",
        f"/api/agent/conversations/{conversation}/attachments/{attachment}",
    ):
        served = admin.get(path)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert not any(s in served.content for s in SECRETS)
        assert b"Exif" in served.content  # the orientation, alone
        assert pixels(served.content) == pixels(sent)
    [(_, _, kept)] = kept_pictures(services)
    assert kept == served.content
    # the event describes the kept file, not the one sent
    assert data["metadata_removed"] is True
    assert data["size"] == len(served.content) < len(sent)
    assert data["sha256"] == hashlib.sha256(served.content).hexdigest()
    logged = [e for _, e in services.store.log() if e.kind == "customer_sent_image"]
    assert logged[-1].sha256 == data["sha256"]  # type: ignore[attr-defined]
    # the customer's copy holds the kept picture too
    held = admin.get("/api/admin/customers/cust-gps/export").json()
    copy = base64.b64decode(held["conversations"][0]["pictures"][0]["base64"])
    assert copy == served.content


def test_a_conversation_full_of_pictures_refuses_one_more(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    two = AttachmentSettings(max_conversation_pictures=2, max_conversation_mb=1)
    for built in services_over(demo_data_dir, tmp_path, attachments=two):
        with as_customer(TestClient(create_app(built))) as customer:
            conversation = start(customer)
            path = f"/api/conversations/{conversation}/images"
            assert [upload(customer, path, PHOTO)["status"] for _ in range(2)] == [201, 201]
            before = events(customer, conversation)
            full = upload(customer, path, REPLY_PICTURE)
            assert (full["status"], full["code"]) == (409, "image_quota_reached"), full
            assert "2 pictures" in full["messages"]["en"] and "1 MB" in full["messages"]["en"]
            assert "2 張" in full["messages"]["zh"]
            assert events(customer, conversation) == before
            assert len(kept_pictures(built)) == 2
            other = start(customer)  # another conversation has its own room
            assert upload(customer, f"/api/conversations/{other}/images", PHOTO)["status"] == 201


def test_only_the_conversation_s_own_token_opens_its_pictures(client: TestClient) -> None:
    mine = start(client)
    attachment = upload(client, f"/api/conversations/{mine}/images", PHOTO)["data"]
    theirs = start(client)
    path = f"/api/conversations/{mine}/attachments/{attachment['attachment_id']}"
    other_token = {"authorization": f"Bearer {token_of(client, theirs)}"}
    refused = client.get(path, headers=other_token)
    assert refused.status_code == 404
    assert refused.json()["code"] == "conversation_not_found"
    # the other customer's own conversation does not hold it either
    across = client.get(
        f"/api/conversations/{theirs}/attachments/{attachment['attachment_id']}",
        headers=other_token,
    )
    assert across.status_code == 404
    assert across.json()["code"] == "attachment_not_found"
    with TestClient(client.app) as anonymous:
        assert anonymous.get(path).status_code == 404
        sent = anonymous.post(f"/api/conversations/{mine}/images", content=PHOTO)
        assert sent.status_code == 404
        # staff routes need a session
        staff = f"/api/agent/conversations/{mine}/attachments/{attachment['attachment_id']}"
        assert anonymous.get(staff).status_code == 401


def test_what_is_no_image_is_refused_and_nothing_is_kept(
    client: TestClient, services: Services
) -> None:
    conversation = start(client)
    before = events(client, conversation)
    path = f"/api/conversations/{conversation}/images"
    for data, status, code in [
        (SVG, 415, "image_unsupported_type"),  # an SVG sent as "defect.png"
        (HTML, 415, "image_unsupported_type"),
        (picture("png", (200, 150)) + HTML, 400, "image_damaged"),  # a page after its end
        (PHOTO[: len(PHOTO) // 2], 400, "image_damaged"),
        (b"", 400, "image_empty"),
    ]:
        refused = upload(client, path, data, **{"content-type": "image/png"})
        assert (refused["status"], refused["code"]) == (status, code), refused
        assert refused["messages"]["zh"] and refused["messages"]["en"]
    too_large = b"\xff\xd8\xff" + b"\x00" * (5 * 1_048_576)
    refused = upload(client, path, too_large)
    assert (refused["status"], refused["code"]) == (413, "image_too_large")
    assert "5 MB" in refused["messages"]["en"] and "5 MB" in refused["messages"]["zh"]
    assert events(client, conversation) == before
    assert kept_pictures(services) == []


def test_the_agent_sees_the_picture_and_sends_one_back(
    admin: TestClient, services: Services
) -> None:
    conversation = start(admin, **signed("cust-7"))
    send(admin, conversation, REFUSED)
    assert admin.post(f"/api/conversations/{conversation}/handoff").status_code == 200
    sent = upload(admin, f"/api/conversations/{conversation}/images", PHOTO)
    attachment = sent["data"]["attachment_id"]
    queue = admin.get("/api/agent/queue").json()["conversations"]
    assert next(q for q in queue if q["id"] == conversation)["customer_messages"] == 2

    view = admin.get(f"/api/agent/conversations/{conversation}").json()
    shown = [e for e in view["events"] if e["kind"] == "customer_sent_image"]
    assert shown[0]["data"]["attachment_id"] == attachment
    assert [p["attachment_id"] for p in view["packet"]["pictures"]] == [attachment]
    staff_path = f"/api/agent/conversations/{conversation}/attachments/{attachment}"
    served = admin.get(staff_path)
    assert served.status_code == 200 and served.content == PHOTO
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"

    # only the agent who has the conversation sends pictures in it
    agent_path = f"/api/agent/conversations/{conversation}/images"
    assert upload(admin, agent_path, REPLY_PICTURE)["code"] == "not_assignee"
    assert admin.post(f"/api/agent/conversations/{conversation}/claim").status_code == 200
    assert upload(admin, agent_path, SVG)["code"] == "image_unsupported_type"
    back = upload(admin, agent_path, REPLY_PICTURE)
    assert back["status"] == 201 and back["kind"] == "agent_sent_image"
    assert back["data"]["agent"] == "boss"

    seen = [e for e in events(admin, conversation) if e["kind"] == "agent_sent_image"]
    assert seen and "agent" not in seen[0]["data"]  # customers see the display name only
    assert seen[0]["data"]["agent_name"] == "店長"
    reply_id = seen[0]["data"]["attachment_id"]
    served = admin.get(f"/api/conversations/{conversation}/attachments/{reply_id}")
    assert served.status_code == 200 and served.content == REPLY_PICTURE
    assert served.headers["content-type"] == "image/png"

    audit = admin.get("/api/admin/audit", params={"action": "image_sent"}).json()["entries"]
    assert [e["target"] for e in audit] == [conversation]
    # the customer's copy names the pictures
    copy = admin.get(f"/api/conversations/{conversation}/copy").text
    assert "image/jpeg" in copy and "image/png" in copy


def test_the_customers_copy_holds_the_pictures_and_erasure_deletes_them(
    admin: TestClient, services: Services
) -> None:
    conversation = start(admin, **signed("alice"))
    attachment = upload(admin, f"/api/conversations/{conversation}/images", PHOTO)["data"]
    other = start(admin, **signed("bob"))
    upload(admin, f"/api/conversations/{other}/images", REPLY_PICTURE)

    held = admin.get("/api/admin/customers/alice/export").json()
    pictures = held["conversations"][0]["pictures"]
    assert len(pictures) == 1
    assert base64.b64decode(pictures[0]["base64"]) == PHOTO
    assert pictures[0]["content_type"] == "image/jpeg"
    page = admin.get("/api/admin/customers/alice/export.html")
    assert "data:image/jpeg;base64," in page.text
    assert "img-src data:" in page.headers["content-security-policy"]

    erased = admin.delete("/api/admin/customers/alice").json()
    assert erased["deleted_pictures"] == 1
    assert [c for c, _, _ in kept_pictures(services)] == [other]  # bob's stays
    path = f"/api/agent/conversations/{conversation}/attachments/{attachment['attachment_id']}"
    assert admin.get(path).status_code == 404


def test_retention_deletes_the_pictures_of_anonymised_conversations(
    client: TestClient, services: Services
) -> None:
    conversation = start(client)
    upload(client, f"/api/conversations/{conversation}/images", PHOTO)
    assert len(kept_pictures(services)) == 1
    retention = services.retention()
    assert retention is not None
    report = retention.purge(now() + timedelta(days=services.settings.privacy.retention_days + 1))
    assert report.conversations == 1 and report.files == 1
    assert kept_pictures(services) == []
    logged = list(services.store.log())
    shared = [e for _, e in logged if e.kind == "customer_sent_image"]
    assert shared and shared[0].sha256 == ""  # the digest goes with the texts


def test_a_picture_an_older_version_kept_as_a_file_is_served_after_the_upgrade(
    services: Services, tmp_path: Path
) -> None:
    with as_customer(TestClient(create_app(services))) as customer:
        conversation = start(customer)
        sent = upload(customer, f"/api/conversations/{conversation}/images", PHOTO)["data"]
        path = f"/api/conversations/{conversation}/attachments/{sent['attachment_id']}"
        # as an older version left it: a file under the data directory, no row
        folder = tmp_path / "attachments" / conversation
        folder.mkdir(parents=True)
        (folder / sent["attachment_id"]).write_bytes(PHOTO)
        with writer(database(services)).begin() as conn:
            conn.execute(delete(attachments))
        assert customer.get(path).status_code == 404
    # the server starts again over the same data
    with as_customer(TestClient(create_app(services))) as again:
        again.auth = customer.auth  # the same customer, with their token
        served = again.get(path)
    assert served.status_code == 200 and served.content == PHOTO
    assert served.headers["content-type"] == "image/jpeg"
    assert kept_pictures(services) == [(conversation, sent["attachment_id"], PHOTO)]
    assert not (folder / sent["attachment_id"]).exists()


def test_a_customer_s_picture_reopens_a_resolved_conversation(admin: TestClient) -> None:
    conversation = start(admin, **signed("cust-9"))
    send(admin, conversation, REFUSED)
    admin.post(f"/api/conversations/{conversation}/handoff")
    admin.post(f"/api/agent/conversations/{conversation}/claim")
    assert admin.post(f"/api/agent/conversations/{conversation}/resolve").status_code == 200
    upload(admin, f"/api/conversations/{conversation}/images", PHOTO)
    assert admin.get(f"/api/conversations/{conversation}").json()["conversation"]["status"] == "bot"


def test_pictures_can_be_switched_off(demo_data_dir: Path, tmp_path: Path) -> None:
    off = AttachmentSettings(images=False)
    for built in services_over(demo_data_dir, tmp_path, attachments=off):
        with as_customer(TestClient(create_app(built))) as customer:
            conversation = start(customer)
            refused = upload(customer, f"/api/conversations/{conversation}/images", PHOTO)
            assert (refused["status"], refused["code"]) == (400, "images_off")


def test_pictures_are_rate_limited_per_client(demo_data_dir: Path, tmp_path: Path) -> None:
    two = AttachmentSettings(rate_limit="2/minute")
    for built in services_over(demo_data_dir, tmp_path, attachments=two):
        with as_customer(TestClient(create_app(built))) as customer:
            conversation = start(customer)
            path = f"/api/conversations/{conversation}/images"
            assert [upload(customer, path, PHOTO)["status"] for _ in range(2)] == [201, 201]
            limited = upload(customer, path, PHOTO)
            assert (limited["status"], limited["code"]) == (429, "rate_limited")
            assert len(kept_pictures(built)) == 2
