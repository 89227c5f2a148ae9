"""What every table kefu keeps in its SQL database shares: one `MetaData` (constraint names
fixed, so that migrations can refer to them on every backend) and timezone-aware UTC
datetimes. The conversation log, the accounts, the knowledge catalog and drafts all define
their tables on it; the migrations under `bot/conversation/migrations` create them. Also how a
SQLite database is opened for several writers (WAL, BEGIN IMMEDIATE for writes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import URL, Connection, Dialect, Engine
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out. SQLite keeps no zone, so the stored value is the
    UTC wall time and the zone is put back on the way out; naive input is refused as ambiguous."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime ({value}) is ambiguous; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# How long a SQLite writer waits for the file lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30.0
# Execution option that marks a write transaction (SQLite: BEGIN IMMEDIATE).
_WRITE = "kefu_write"
# Execution option of reads that need no snapshot across statements (SQLite: no BEGIN).
_LONE_READS = "kefu_lone_reads"


def writer(engine: Engine) -> Engine:
    """`engine` for write transactions: on SQLite each begins IMMEDIATE, taking the write lock
    (waiting on the busy timeout) before it reads, so a read-then-update never meets
    "database is locked" when it upgrades. For the tables that live beside the store's."""
    return engine.execution_options(**{_WRITE: True})


def lone_reader(engine: Engine) -> Engine:
    """`engine` for reads whose statements need not see one snapshot: on SQLite each statement
    runs on its own, without the BEGIN (and its round through the engine) a transaction costs;
    for the reads every turn makes."""
    return engine.execution_options(**{_LONE_READS: True})


def sqlite_engine(path: Path) -> Engine:
    """An engine on the SQLite file `path` (created if missing), set up for several writers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        URL.create("sqlite+pysqlite", database=str(path)),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    serialize_sqlite_writes(engine)
    return engine


def serialize_sqlite_writes(engine: Engine) -> None:
    """SQLite: WAL so readers never wait, and BEGIN IMMEDIATE for writes so two writers queue
    on the busy timeout instead of failing when both try to upgrade a read lock."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: it would emit its own BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_WRITE, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(_LONE_READS, False):
            conn.exec_driver_sql("BEGIN")
