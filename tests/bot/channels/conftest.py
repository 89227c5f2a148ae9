"""Channel fixtures: the real app (demo knowledge, SQLite store of the test's own) with LINE and
Messenger pointed at fake platforms served over HTTP, and signed webhook bodies."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.channels import line, messenger
from bot.channels.settings import LineSettings, MessengerSettings
from bot.services import Services, build_services
from bot.settings import AttachmentSettings, ConversationSettings, DeskSettings, Settings
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import demo_data_dir  # noqa: F401 (a fixture)
from tests.bot.channels.platforms import FakeGraph, FakeLine
from tests.customer_tokens import as_customer

LINE_SECRET = "line-channel-secret-0123456789"
LINE_TOKEN = "line-access-token-abcdef"
APP_SECRET = "meta-app-secret-9876543210"
VERIFY_TOKEN = "verify-me-please"
PAGE_TOKEN = "page-access-token-xyz"


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    platform = FakeLine(LINE_TOKEN)
    yield platform
    platform.close()


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    platform = FakeGraph(PAGE_TOKEN)
    yield platform
    platform.close()


def channel_settings(data_dir: Path, db: Path, line_url: str, graph_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        conversation=ConversationSettings(database_url=f"sqlite+pysqlite:///{db}"),
        desk=DeskSettings(when_nobody_available="queue"),  # handoffs queue, agent or not
        line=LineSettings(
            channel_secret=LINE_SECRET,
            channel_access_token=LINE_TOKEN,
            api_base_url=line_url,
            content_base_url=line_url,
        ),
        attachments=AttachmentSettings(directory=db.parent / "attachments"),
        messenger=MessengerSettings(
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            page_access_token=PAGE_TOKEN,
            graph_api_url=graph_url,
        ),
    )


@pytest.fixture
def settings(
    demo_data_dir: Path,  # noqa: F811
    tmp_path: Path,
    fake_line: FakeLine,
    fake_graph: FakeGraph,
) -> Settings:
    return channel_settings(
        demo_data_dir, tmp_path / "conversations.db", fake_line.url, fake_graph.url
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, embedders=[HashingEmbedder("e5")])
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with as_customer(TestClient(create_app(services))) as test_client:
        yield test_client


# --- LINE webhooks ---


def line_event(kind: str, user: str = "U1", *, age_s: float = 0.0, **fields: Any) -> dict:
    event = {
        "type": kind,
        "mode": "active",
        "timestamp": int((time.time() - age_s) * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": fields.pop("event_id", uuid.uuid4().hex.upper()[:26]),
        "deliveryContext": {"isRedelivery": fields.pop("redelivery", False)},
    }
    if kind not in ("unfollow",):
        event["replyToken"] = fields.pop("reply_token", uuid.uuid4().hex)
    event.update(fields)
    return event


def line_text(text: str, user: str = "U1", **fields: Any) -> dict:
    message = {"id": uuid.uuid4().hex[:18], "type": "text", "text": text, "quoteToken": "q"}
    return line_event("message", user, message=message, **fields)


def line_postback(data: str, user: str = "U1", **fields: Any) -> dict:
    return line_event("postback", user, postback={"data": data}, **fields)


def line_body(*events: dict) -> bytes:
    return json.dumps({"destination": "Ubot", "events": list(events)}, ensure_ascii=False).encode()


def post_line(client: TestClient, body: bytes, signature: str | None = "sign") -> Any:
    headers = {"content-type": "application/json"}
    if signature == "sign":
        headers["x-line-signature"] = line.signature(body, LINE_SECRET)
    elif signature is not None:
        headers["x-line-signature"] = signature
    return client.post("/channels/line/webhook", content=body, headers=headers)


# --- Messenger webhooks ---


def messenger_message(text: str, psid: str = "PSID1", **message: Any) -> dict:
    return {
        "sender": {"id": psid},
        "recipient": {"id": "PAGE1"},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": message.pop("mid", "m_" + uuid.uuid4().hex), "text": text, **message},
    }


def messenger_body(*messaging: dict) -> bytes:
    entry = {"id": "PAGE1", "time": int(time.time() * 1000), "messaging": list(messaging)}
    return json.dumps({"object": "page", "entry": [entry]}, ensure_ascii=False).encode()


def post_messenger(client: TestClient, body: bytes, signature: str | None = "sign") -> Any:
    headers = {"content-type": "application/json"}
    if signature == "sign":
        headers["x-hub-signature-256"] = messenger.signature(body, APP_SECRET)
    elif signature is not None:
        headers["x-hub-signature-256"] = signature
    return client.post("/channels/messenger/webhook", content=body, headers=headers)
