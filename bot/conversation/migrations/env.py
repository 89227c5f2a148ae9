"""Alembic environment: migrates over the connection SqlConversationStore hands in, or over
`sqlalchemy.url` when a developer runs alembic commands (e.g. autogenerate a revision)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from bot.tables import metadata  # every table, not only the conversations'

config = context.config


def run_on(connection: Connection) -> None:
    # batch mode lets later revisions alter SQLite tables (it rebuilds them)
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run_on(given)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url on the alembic Config, or pass a connection")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            run_on(connection)
    finally:
        engine.dispose()
