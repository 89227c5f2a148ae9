"""Where the server and the command line find the knowledge catalog: in the SQL database when
KEFU_DATABASE_URL names one (every worker serves what any of them ingested), else in SQLite
under the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.conversation.sql import SqlConversationStore
from bot.services import build_services
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.catalog import SQLITE_FILE
from knowledge.embedding import HashingEmbedder
from tests.bot.conversation.conftest import postgres_admin, postgres_url  # noqa: F401
from tests.knowledge.test_base import BASE, rows


@pytest.fixture
def no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KEFU_DATABASE_URL", "KEFU_CONVERSATION__DATABASE_URL", "KEFU_CHROMA_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ingested(postgres_url: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """A PostgreSQL database whose catalog holds BASE, ingested by another worker."""
    store = SqlConversationStore(postgres_url)
    try:
        kb = KnowledgeBase.open(
            tmp_path / "ingesting", [HashingEmbedder("e5")], engine=store.engine
        )
        kb.sync_source("faq.xlsx", rows(*BASE))
    finally:
        store.close()
    yield postgres_url


def test_the_server_serves_the_catalog_of_the_shared_database(
    ingested: str, tmp_path: Path, no_database_url: None
) -> None:
    settings = Settings(data_dir=tmp_path / "empty", database_url=ingested)
    services = build_services(settings, embedders=[HashingEmbedder("e5")])
    assert services.kb.catalog.count() == 3
    assert [s.name for s in services.kb.catalog.sources()] == ["faq.xlsx"]
    assert not (tmp_path / "empty" / SQLITE_FILE).exists()


def test_without_a_database_url_the_catalog_stays_in_the_data_dir(
    tmp_path: Path, no_database_url: None
) -> None:
    data = tmp_path / "data"
    KnowledgeBase.open(data, [HashingEmbedder("e5")]).sync_source("faq.xlsx", rows(*BASE))
    services = build_services(Settings(data_dir=data), embedders=[HashingEmbedder("e5")])
    assert services.kb.catalog.count() == 3
    assert services.kb.catalog.engine.url.database == str(data / SQLITE_FILE)


def test_kefu_sources_lists_the_shared_database_s_catalog(
    ingested: str, tmp_path: Path, no_database_url: None
) -> None:
    result = CliRunner().invoke(
        cli,
        ["sources", "--data-dir", str(tmp_path / "empty")],
        env={"KEFU_DATABASE_URL": ingested},
    )
    assert result.exit_code == 0, result.output
    assert "faq.xlsx" in result.output and "│ 3 " in result.output
    empty = CliRunner().invoke(cli, ["sources", "--data-dir", str(tmp_path / "empty")])
    assert empty.exit_code == 0 and "faq.xlsx" not in empty.output
