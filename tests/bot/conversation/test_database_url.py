"""KEFU_DATABASE_URL names the one SQL database of all SQL state; the older
KEFU_CONVERSATION__DATABASE_URL still works when it is unset."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bot.access.accounts import Accounts, Role
from bot.services import conversation_store
from bot.settings import Settings
from knowledge.drafts import KnowledgeDrafts


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("KEFU_DATABASE_URL", "KEFU_CONVERSATION__DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_database_url_wins_over_its_former_name(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(_env_file=None).sql_url() is None  # SQLite under the data dir
    monkeypatch.setenv("KEFU_CONVERSATION__DATABASE_URL", "postgresql+psycopg://old@db/kefu")
    assert Settings(_env_file=None).sql_url() == "postgresql+psycopg://old@db/kefu"
    monkeypatch.setenv("KEFU_DATABASE_URL", "postgresql+psycopg://new@db/kefu")
    assert Settings(_env_file=None).sql_url() == "postgresql+psycopg://new@db/kefu"


def test_accounts_sessions_and_drafts_live_in_the_database_it_names(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setenv("KEFU_DATABASE_URL", postgres_url)
    store = conversation_store(Settings(_env_file=None))
    try:
        conversation = store.create("web")
        accounts = Accounts(store.engine)
        accounts.add("mei", "a long enough password", Role.AGENT, "Mei")
        assert accounts.log_in("mei", "a long enough password") is not None
        KnowledgeDrafts(store.engine).add(
            "退貨期限？", "七天內。", "mei", conversation_id=conversation.id
        )
    finally:
        store.close()
    assert not (clean_env / "conversations.db").exists()  # nothing went to SQLite
    url = make_url(postgres_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database
    ) as db:
        counts = [
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("conversations", "users", "sessions", "knowledge_drafts")
        ]
    assert counts == [1, 1, 1, 1]
