"""Conversation-store fixtures: one store per implementation, each test on its own database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from bot.conversation.sql import SqlConversationStore
from bot.conversation.store import ConversationStore, MemoryConversationStore

# Trust auth on 127.0.0.1: the `postgres` role exists in every install (Debian, the Docker
# image CI uses); `root` is what a root shell on a dev box has. KEFU_TEST_POSTGRES overrides both,
# e.g. KEFU_TEST_POSTGRES="host=db port=5432 user=kefu password=…"
POSTGRES_CANDIDATES = (
    [os.environ["KEFU_TEST_POSTGRES"]]
    if os.environ.get("KEFU_TEST_POSTGRES")
    else ["host=127.0.0.1 port=5432 user=postgres", "host=127.0.0.1 port=5432 user=root"]
)

HOW_TO_START_POSTGRES = """\
PostgreSQL is not reachable, and the conversation-store contract must run against it.
Tried: {tried}
Start a server with trust auth on 127.0.0.1:5432, for example:
  docker run -d --name kefu-pg -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16
or, with the Debian package installed:  sudo service postgresql start
or point the tests at another server:   export KEFU_TEST_POSTGRES="host=… port=… user=…"
Last error: {error}"""


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """A libpq conninfo (without dbname) of a role that may create databases; fails the test,
    never skips it, when no server answers."""
    error: Exception | None = None
    for conninfo in POSTGRES_CANDIDATES:
        try:
            with psycopg.connect(conninfo, dbname="postgres", connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return conninfo
        except psycopg.Error as exc:
            error = exc
    pytest.fail(
        HOW_TO_START_POSTGRES.format(tried=" | ".join(POSTGRES_CANDIDATES), error=error),
        pytrace=False,
    )


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    """A fresh database for one test (unique name, so xdist workers never share one)."""
    name = f"kefu_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_admin, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(postgres_admin)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    try:
        yield (
            f"postgresql+psycopg://{user}{password}@{params.get('host', '127.0.0.1')}:"
            f"{params.get('port', 5432)}/{name}"
        )
    finally:
        with psycopg.connect(postgres_admin, dbname="postgres", autocommit=True) as admin:
            # FORCE: a failed test may have left connections open
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'conversations.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per SQL backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


OpenStore = Callable[[str], SqlConversationStore]


@pytest.fixture
def open_sql_store() -> Iterator[OpenStore]:
    """Opens SqlConversationStores and closes them at teardown. Ask for it after the URL fixture
    so that it is torn down first, before the database is dropped."""
    opened: list[SqlConversationStore] = []

    def open_store(url: str) -> SqlConversationStore:
        opened.append(SqlConversationStore(url))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> ConversationStore:
    if request.param == "memory":
        return MemoryConversationStore()
    url = request.getfixturevalue(f"{request.param}_url")
    open_store: OpenStore = request.getfixturevalue("open_sql_store")
    return open_store(url)
