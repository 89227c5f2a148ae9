"""The API fixtures (the real app over the demo knowledge, a SQLite store per test), the
PostgreSQL databases of the store's tests, and the app over either backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.services import Services, build_services
from bot.settings import AccessSettings, ConversationSettings, DeskSettings, Settings
from knowledge.embedding import HashingEmbedder
from tests.bot.api.conftest import (  # noqa: F401
    ADMIN_PASSWORD,
    SHOP_SECRET,
    admin,
    client,
    demo_data_dir,
    services,
)
from tests.bot.conversation.conftest import (  # noqa: F401
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)
from tests.customer_tokens import as_customer


@pytest.fixture
def any_services(demo_data_dir: Path, sql_url: str) -> Iterator[Services]:  # noqa: F811
    """The services over the demo knowledge with a store on SQLite, then on PostgreSQL."""
    settings = Settings(
        data_dir=demo_data_dir,
        conversation=ConversationSettings(database_url=sql_url),
        desk=DeskSettings(when_nobody_available="queue"),  # handoffs queue, agent or not
        access=AccessSettings(customer_id_secret=SHOP_SECRET),
    )
    built = build_services(settings, embedders=[HashingEmbedder("e5")])
    yield built
    built.close()


@pytest.fixture
def any_admin(any_services: Services) -> Iterator[TestClient]:
    """A client logged in as an admin over `any_services`."""
    any_services.accounts.add("boss", ADMIN_PASSWORD, "admin", "店長")
    with as_customer(TestClient(create_app(any_services))) as test_client:
        response = test_client.post(
            "/api/auth/login", json={"username": "boss", "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        yield test_client
