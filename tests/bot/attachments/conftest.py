"""An attachment store over each SQL backend the server runs on, on a database of its own."""

from __future__ import annotations

import pytest

from bot.attachments.store import AttachmentStore
from tests.bot.conversation.conftest import (  # noqa: F401 (fixtures)
    OpenStore,
    open_sql_store,
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)

LIMIT = 5 * 1_048_576


@pytest.fixture
def database(sql_url: str, open_sql_store: OpenStore):  # noqa: F811
    """A migrated conversation store (its engine holds the attachments table)."""
    return open_sql_store(sql_url)


@pytest.fixture
def kept(database) -> AttachmentStore:
    return AttachmentStore(database.engine, LIMIT)
