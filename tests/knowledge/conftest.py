"""Knowledge fixtures: the SQL database the library keeps its files and jobs in (a SQLite file
of the test's own, or a PostgreSQL database made and dropped for it), and libraries over it
that are closed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.conversation.sql import SqlConversationStore
from knowledge.base import KnowledgeBase
from knowledge.ingestion import IngestOptions
from knowledge.library import KnowledgeLibrary
from tests.bot.conversation.conftest import postgres_admin, postgres_url  # noqa: F401 (fixtures)

OpenLibrary = Callable[..., KnowledgeLibrary]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlConversationStore]:
    store = SqlConversationStore.sqlite(tmp_path / "db")
    yield store
    store.close()


@pytest.fixture
def engine(sqlite_store: SqlConversationStore) -> Engine:
    return sqlite_store.engine


@pytest.fixture
def open_library() -> Iterator[OpenLibrary]:
    """Opens libraries (workers) and closes them at teardown."""
    opened: list[KnowledgeLibrary] = []

    def open_one(kb: KnowledgeBase, engine: Engine, data_dir: Path, **kw: Any) -> KnowledgeLibrary:
        opened.append(KnowledgeLibrary(kb, engine, data_dir, IngestOptions(), **kw))
        return opened[-1]

    yield open_one
    for library in opened:
        library.close()
