"""The knowledge files an admin uploaded, kept in the SQL database every worker shares: each
file's bytes, size and upload time, and while a replacement waits for its ingest, the version
it replaces (the one whose items serve until the new one has been read).

The functions take a connection, so that a job's ending can put files back and record its
state in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    LargeBinary,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from knowledge.database import UtcDateTime, metadata

# In the conversation store's schema (migration 0014).
source_files = Table(
    "knowledge_files",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    # the version a pending replacement falls back to; NULL when none is pending
    Column("previous", LargeBinary),
    Column("previous_size", BigInteger),
    Column("previous_uploaded_at", UtcDateTime),
)
_c = source_files.c


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    uploaded_at: datetime
    replacing: bool  # a previous version waits to be put back should the new one not serve


def stored(conn: Connection, name: str) -> StoredFile | None:
    row = conn.execute(
        select(_c.name, _c.size, _c.uploaded_at, _c.previous_size).where(_c.name == name)
    ).first()
    return None if row is None else StoredFile(row[0], row[1], row[2], row[3] is not None)


def every_file(conn: Connection) -> list[StoredFile]:
    rows = conn.execute(
        select(_c.name, _c.size, _c.uploaded_at, _c.previous_size).order_by(_c.name)
    )
    return [StoredFile(r[0], r[1], r[2], r[3] is not None) for r in rows]


def data_of(conn: Connection, name: str) -> bytes | None:
    """The current version's bytes."""
    row = conn.execute(select(_c.data).where(_c.name == name)).first()
    return None if row is None else bytes(row[0])


def add(conn: Connection, name: str, data: bytes, at: datetime | None = None) -> None:
    """A new file (the caller has checked that the name is free; the key refuses a race)."""
    at = at or datetime.now(UTC)
    conn.execute(insert(source_files).values(name=name, data=data, size=len(data), uploaded_at=at))


def replace(conn: Connection, name: str, data: bytes, at: datetime | None = None) -> bool:
    """A new version of `name` (or a new file). The version it replaces is kept to fall back
    to, unless one is kept already: that one still serves, the newer one never did. Whether a
    previous version is pending now."""
    at = at or datetime.now(UTC)
    row = conn.execute(select(_c.previous_size).where(_c.name == name).with_for_update()).first()
    if row is None:
        add(conn, name, data, at)
        return False
    values: dict[str, object] = {"data": data, "size": len(data), "uploaded_at": at}
    if row[0] is None:
        values.update(previous=_c.data, previous_size=_c.size, previous_uploaded_at=_c.uploaded_at)
    conn.execute(update(source_files).where(_c.name == name).values(**values))
    return True


def keep_previous(conn: Connection, name: str, data: bytes, at: datetime) -> None:
    """Record `data` as the version a pending replacement of `name` falls back to."""
    conn.execute(
        update(source_files)
        .where(_c.name == name)
        .values(previous=data, previous_size=len(data), previous_uploaded_at=at)
    )


def put_back(conn: Connection, name: str) -> bool:
    """The previous version becomes the current one again; False when none was pending."""
    done = conn.execute(
        update(source_files)
        .where(_c.name == name, _c.previous_size.is_not(None))
        .values(
            data=_c.previous,
            size=_c.previous_size,
            uploaded_at=_c.previous_uploaded_at,
            previous=None,
            previous_size=None,
            previous_uploaded_at=None,
        )
    )
    return done.rowcount > 0


def settle(conn: Connection, name: str) -> None:
    """The new version serves: its previous one is not needed any more."""
    conn.execute(
        update(source_files)
        .where(_c.name == name)
        .values(previous=None, previous_size=None, previous_uploaded_at=None)
    )


def remove(conn: Connection, name: str) -> bool:
    return conn.execute(delete(source_files).where(_c.name == name)).rowcount > 0


def write_out(conn: Connection, names: list[str], folder: Path) -> list[Path]:
    """The current versions of `names` as files in `folder` (the loaders read paths); a name
    with no file is left out."""
    written = []
    for name in names:
        data = data_of(conn, name)
        if data is not None:
            path = folder / name
            path.write_bytes(data)
            written.append(path)
    return written
