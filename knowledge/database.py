"""What every table kefu keeps in its SQL database shares: one `MetaData` (constraint names
fixed, so that migrations can refer to them on every backend) and timezone-aware UTC
datetimes. The conversation log, the accounts and the knowledge drafts all define their
tables on it; the migrations under `bot/conversation/migrations` create them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect, Engine
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


# Execution option that marks a write transaction: on SQLite the store's engine then begins it
# IMMEDIATE (bot/conversation/sql.py), taking the write lock before it reads.
WRITE = "kefu_write"


def for_writing(engine: Engine) -> Engine:
    """`engine` for a transaction that reads then writes: on SQLite it takes the write lock
    first (waiting on the busy timeout), so two processes' read-then-update never interleave."""
    return engine.execution_options(**{WRITE: True})


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
