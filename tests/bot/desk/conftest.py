"""The desk runs on the conversation store's databases: SQLite and a real PostgreSQL."""

from tests.bot.conversation.conftest import (  # noqa: F401 (fixtures)
    postgres_admin,
    postgres_url,
    sql_url,
    sqlite_url,
)
