"""Order fixtures: the real app served by uvicorn on a free port (platforms post to it over
HTTP), stores on SQLite and PostgreSQL, and a small HTTP server for fakes of other systems."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.app import create_app
from bot.services import Services, build_services
from bot.settings import ConversationSettings, DeskSettings, OrdersSettings, Settings
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import demo_data_dir  # noqa: F401  (a fixture)
from tests.bot.conversation.conftest import (  # noqa: F401  (fixtures)
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)
from tests.conftest import free_port

SHOPIFY_SECRET = "shpss_test_secret_1234"
WOO_SECRET = "woo secret with spaces"


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` behind a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def order_services(
    data_dir: Path, database_url: str, orders: OrdersSettings | None = None
) -> Services:
    settings = Settings(
        data_dir=data_dir,
        conversation=ConversationSettings(database_url=database_url),
        desk=DeskSettings(when_nobody_available="queue"),  # handoffs queue, agent or not
        orders=orders
        or OrdersSettings(shopify_secret=SHOPIFY_SECRET, woocommerce_secret=WOO_SECRET),
    )
    return build_services(settings, embedders=[HashingEmbedder("e5")])


@pytest.fixture
def services(demo_data_dir: Path, sql_url: str) -> Iterator[Services]:  # noqa: F811
    built = order_services(demo_data_dir, sql_url)
    yield built
    built.close()


@pytest.fixture
def kefu_url(services: Services) -> Iterator[str]:
    with served(create_app(services)) as url:
        yield url
