"""API fixtures: the real app from `build_services`, over the demo knowledge base (ingested once
with the hashing embedder) and a SQLite conversation store of its own per test.

The hashing embedder is named e5, so its cosine is the similarity signal, and the data dir holds
a refusal model set by hand (p = sigmoid((similarity - 0.5) / 0.1), refuse below 0.5): an FAQ
question asked as written is answered, an off-topic one refused, whatever the shipped model is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from starlette.testclient import WebSocketTestSession

from bot.access.customer import sign_customer_id
from bot.answering.refusal import LanguageModel, RefusalModel
from bot.app import create_app
from bot.services import Services, build_services
from bot.settings import (
    AccessSettings,
    AttachmentSettings,
    ConversationSettings,
    DeskSettings,
    Settings,
)
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.ingestion import ingest_paths
from tests.conftest import DEMO_FILES
from tests.customer_tokens import as_customer

SHOP_SECRET = "the shop's shared secret"  # KEFU_ACCESS__CUSTOMER_ID_SECRET of these tests
SIMILARITY = LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.5)
ANSWERED = "退貨要怎麼申請？"  # shop_faq.xlsx, sheet 退換貨
REFUSED = "今天台北天氣如何？"


@cache
def faq_row(sheet: str, question: str) -> tuple[int, str]:
    """(row, answer) of a question in the demo shop_faq.xlsx."""
    for row in load_workbook(DEMO_FILES / "shop_faq.xlsx")[sheet].iter_rows():
        if row[0].value == question:
            return row[0].row, str(row[1].value)
    raise KeyError(f"{question!r} is not in sheet {sheet}")


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("api") / "data"
    kb = KnowledgeBase.open(data, [HashingEmbedder("e5")])
    report = ingest_paths(kb, [DEMO_FILES])
    assert report.ok, [f.error for f in report.failed]
    RefusalModel({"zh": SIMILARITY, "en": SIMILARITY}).save(data)
    return data


def services_over(
    data_dir: Path,
    tmp_path: Path,
    access: AccessSettings | None = None,
    desk: DeskSettings | None = None,
    attachments: AttachmentSettings | None = None,
) -> Iterator[Services]:
    """The services over a knowledge base, with a conversation store of the test's own.
    Handoffs queue whether or not anyone is there, unless `desk` says otherwise."""
    settings = Settings(
        data_dir=data_dir,
        conversation=ConversationSettings(
            database_url=f"sqlite+pysqlite:///{tmp_path / 'conversations.db'}"
        ),
        access=access or AccessSettings(customer_id_secret=SHOP_SECRET),
        desk=desk or DeskSettings(when_nobody_available="queue"),
        attachments=(attachments or AttachmentSettings()).model_copy(
            update={"directory": tmp_path / "attachments"}
        ),
    )
    built = build_services(settings, embedders=[HashingEmbedder("e5")])
    yield built
    built.close()


@pytest.fixture
def services(demo_data_dir: Path, tmp_path: Path) -> Iterator[Services]:
    yield from services_over(demo_data_dir, tmp_path)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with as_customer(TestClient(create_app(services))) as test_client:
        yield test_client


def signed(customer_id: str, secret: str = SHOP_SECRET) -> dict[str, str]:
    """A customer id as the shop's site sends it: with its signature."""
    return {
        "customer_id": customer_id,
        "customer_id_signature": sign_customer_id(customer_id, secret),
    }


def start(client: TestClient, **body: Any) -> str:
    response = client.post("/api/conversations", json=body or None)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send(client: TestClient, conversation_id: str, text: str) -> dict[str, Any]:
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": text})
    assert response.status_code == 200, response.text
    return dict(response.json())


def events(client: TestClient, conversation_id: str, after: int | None = None) -> list[dict]:
    params = {} if after is None else {"after": after}
    response = client.get(f"/api/conversations/{conversation_id}", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def next_event(ws: WebSocketTestSession, timeout: float = 10.0) -> dict[str, Any]:
    """The next event the stream pushes; fails (instead of hanging) when none comes."""
    box: dict[str, Any] = {}

    def read() -> None:
        try:
            box["event"] = ws.receive_json()
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        pytest.fail(f"the stream pushed nothing within {timeout} s")
    if "error" in box:
        raise box["error"]
    return dict(box["event"])


ADMIN_PASSWORD = "admin correct horse"


@pytest.fixture
def admin(services: Services) -> Iterator[TestClient]:
    """A client logged in as an admin (the customer endpoints work from it too)."""
    services.accounts.add("boss", ADMIN_PASSWORD, "admin", "店長")
    with as_customer(TestClient(create_app(services))) as test_client:
        response = test_client.post(
            "/api/auth/login", json={"username": "boss", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        yield test_client
