"""The catalog: which chunks each source holds, their text, tokens and metadata, in SQL.

It is the source of truth for what is served; vectors and the keyword index follow it. With a
shared database (PostgreSQL) every worker serves the same catalog; the embedded default keeps
it in a SQLite file under the data directory.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from knowledge.database import lone_reader, metadata, sqlite_engine, writer

log = logging.getLogger(__name__)

SQLITE_FILE = "catalog.sqlite3"  # the embedded catalog, under the data directory

# In the SQL database's schema (migration 0013).
chunks = Table(
    "knowledge_chunks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False, index=True),
    Column("locator", Text, nullable=False),
    Column("hash", String(64), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("metadata", Text, nullable=False),  # JSON
    Column("tokens", Text, nullable=False),  # keyword tokens joined by _TOKEN_SEP
    Column("ingested_at", String(40), nullable=False),  # ISO 8601, UTC
)
sources = Table(
    "knowledge_sources",
    metadata,
    Column("name", Text, primary_key=True),
    Column("origin", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("items", Integer, nullable=False),
    Column("last_ingest", String(40), nullable=False),
    Column("last_error", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
)
meta = Table(
    "knowledge_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
TABLES = (chunks, sources, meta)

_TOKEN_SEP = "\x1f"
_BATCH = 500  # ids per IN (...) and rows per INSERT
REVISION = "revision"
IDENTITY = "catalog_id"  # tells one catalog from another (a data dir's caches name theirs)
# A turn asks the revision several times: a catalog reads it at most this often (another
# worker's change is seen this much later at most; its own changes at once).
REVISION_TTL_S = 0.1
CHUNKS_KEPT = 4096  # chunks read kept until the revision moves (a turn reads those it cites)
# Any constant works; the same for every process adopting a data directory's catalog.
_ADOPT_LOCK_KEY = 0x6B6361  # "kca"

_CHUNK_COLUMNS = ("id", "source", "locator", "hash", "text", "language", "metadata")


@dataclass(frozen=True)
class StoredChunk:
    id: str
    source: str
    locator: str
    hash: str
    text: str
    language: str
    metadata: dict[str, Any]
    ingested_at: str
    joined_tokens: str = ""  # the text's keyword tokens as kept (see `tokens`)

    def tokens(self) -> tuple[str, ...]:
        """The text's keyword tokens, as tokenised at ingest (`knowledge.text.tokenize`)."""
        return tuple(self.joined_tokens.split(_TOKEN_SEP)) if self.joined_tokens else ()


@dataclass(frozen=True)
class SourceRecord:
    name: str
    origin: str
    status: str  # "ok" or "failed" (its previous chunks keep serving)
    items: int
    last_ingest: str
    last_error: str
    fingerprint: str  # file bytes + chunking settings of the last successful ingest


ChunkRow = tuple[str, str, str, str, str, dict[str, Any], Sequence[str], str]
"""(id, locator, hash, text, language, metadata, tokens, ingested_at) of a chunk to add."""

_SELECT_REVISION = select(meta.c.value).where(meta.c.key == REVISION)
_SELECT_META = select(meta.c.value).where(meta.c.key == bindparam("key"))
_SELECT_CHUNKS = select(
    *(chunks.c[name] for name in (*_CHUNK_COLUMNS, "ingested_at", "tokens"))
).where(chunks.c.id.in_(bindparam("ids", expanding=True)))
_SELECT_SOURCE = select(*sources.c)


class Catalog:
    """The catalog on a SQLAlchemy engine whose database holds the tables (migration 0013, or
    `Catalog.sqlite` for the embedded file). Every change that alters what is served bumps the
    revision in the same transaction, with one statement adding 1 to the stored value, so
    concurrent writers lose none. The reads every turn makes are cheap: the revision is read at
    most every REVISION_TTL_S, and chunks read are kept until it moves."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = lone_reader(engine)
        self._writer = writer(engine)
        self._dialect = engine.dialect.name
        self._lock = threading.RLock()  # this process's writers, one at a time
        self._writes = 0  # changes made through this catalog: a revision read before is stale
        self._seen: tuple[int, float, int] | None = None  # revision, when read, _writes then
        self._kept: tuple[int, dict[str, StoredChunk]] = (-1, {})  # revision, chunks read at it
        self._kept_lock = threading.Lock()

    @classmethod
    def sqlite(cls, path: Path) -> Catalog:
        """The embedded catalog in the SQLite file `path`, its tables created if missing. A file
        of the former schema (tables chunks, sources, meta) has its rows moved over once."""
        engine = sqlite_engine(path)
        with writer(engine).begin() as conn:
            metadata.create_all(conn, tables=list(TABLES))
            _absorb_former_tables(conn)
        return cls(engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock:
            try:
                with self._writer.begin() as conn:
                    yield conn
            finally:
                self._writes += 1

    # revisions let the keyword index and caches know when to rebuild
    def revision(self) -> int:
        """The catalog's revision: it moves with every change of what is served."""
        now, writes = time.monotonic(), self._writes
        seen = self._seen
        if seen is not None and seen[2] == writes and now - seen[1] < REVISION_TTL_S:
            return seen[0]
        with self._reader.connect() as conn:
            value = conn.execute(_SELECT_REVISION).scalar()
        revision = int(value) if value is not None else 0
        self._seen = (revision, now, writes)
        return revision

    def meta(self, key: str) -> str | None:
        with self._reader.connect() as conn:
            value = conn.execute(_SELECT_META, {"key": key}).scalar()
        return str(value) if value is not None else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            self._upsert(conn, meta, {"key": key, "value": value}, ["key"])

    def identity(self) -> str:
        """A name of this catalog, the same for every worker sharing it (made on first ask)."""
        found = self.meta(IDENTITY)
        if found is not None:
            return found
        with self._write() as conn:
            conn.execute(
                self._insert(meta)
                .values(key=IDENTITY, value=uuid.uuid4().hex)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return str(conn.execute(_SELECT_META, {"key": IDENTITY}).scalar_one())

    def retokenize(self, tokenize: Callable[[str], Sequence[str]]) -> int:
        """Recompute every chunk's keyword tokens (after the tokenizer changed)."""
        with self._write() as conn:
            rows = conn.execute(select(chunks.c.id, chunks.c.text)).all()
            if rows:
                conn.execute(
                    update(chunks)
                    .where(chunks.c.id == bindparam("cid"))
                    .values(tokens=bindparam("toks")),
                    [{"cid": cid, "toks": _TOKEN_SEP.join(tokenize(t))} for cid, t in rows],
                )
            self._bump(conn)
            return len(rows)

    def chunk_states(self, source: str) -> dict[str, tuple[str, str, str]]:
        """id → (locator, hash, ingested_at) for one source."""
        query = select(chunks.c.id, chunks.c.locator, chunks.c.hash, chunks.c.ingested_at).where(
            chunks.c.source == source
        )
        with self._engine.connect() as conn:
            return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(query)}

    def ids_with_hashes(self, hashes: Iterable[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        hs = sorted(set(hashes))
        query = select(chunks.c.id, chunks.c.hash).where(
            chunks.c.hash.in_(bindparam("hashes", expanding=True))
        )
        with self._engine.connect() as conn:
            for start in range(0, len(hs), _BATCH):
                for cid, h in conn.execute(query, {"hashes": hs[start : start + _BATCH]}):
                    found.setdefault(h, []).append(cid)
        return found

    def get(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        """The stored chunks of `ids` (those that exist). Chunks read are kept until the
        revision moves: every turn reads the ones it retrieved, mostly the same few."""
        revision = self.revision()
        with self._kept_lock:
            if self._kept[0] != revision:
                self._kept = (revision, {})
            kept = self._kept[1]
            found = {i: kept[i] for i in ids if i in kept}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if not missing:
            return found
        read = self._read_chunks(missing)
        with self._kept_lock:
            # rows read after the revision was: kept under it unless it moved meanwhile
            if self._kept[0] == revision:
                if len(self._kept[1]) + len(read) > CHUNKS_KEPT:
                    self._kept = (revision, {})
                self._kept[1].update(read)
        found.update(read)
        return {i: found[i] for i in ids if i in found}

    def _read_chunks(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        found: dict[str, StoredChunk] = {}
        with self._reader.connect() as conn:
            for start in range(0, len(ids), _BATCH):
                part = list(ids[start : start + _BATCH])
                for r in conn.execute(_SELECT_CHUNKS, {"ids": part}):
                    found[r[0]] = StoredChunk(
                        r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8] or ""
                    )
        return found

    def languages(self) -> dict[str, str]:
        """id → language of every chunk."""
        with self._engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(select(chunks.c.id, chunks.c.language))}

    def all_tokens(self) -> tuple[list[str], list[list[str]]]:
        ids: list[str] = []
        tokens: list[list[str]] = []
        query = select(chunks.c.id, chunks.c.tokens).order_by(chunks.c.id)
        with self._engine.connect() as conn:
            for cid, toks in conn.execute(query):
                ids.append(cid)
                tokens.append(toks.split(_TOKEN_SEP) if toks else [])
        return ids, tokens

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(chunks)).scalar_one())

    def sources(self) -> list[SourceRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(_SELECT_SOURCE.order_by(sources.c.name))
            return [SourceRecord(*r) for r in rows]

    def source(self, name: str) -> SourceRecord | None:
        with self._engine.connect() as conn:
            r = conn.execute(_SELECT_SOURCE.where(sources.c.name == name)).first()
        return SourceRecord(*r) if r else None

    def replace_source(
        self,
        source: str,
        origin: str,
        remove_ids: Sequence[str],
        add_rows: Sequence[ChunkRow],
        now: str,
        fingerprint: str = "",
    ) -> None:
        """In one transaction: drop `remove_ids`, insert `add_rows`, mark the source ok."""
        with self._write() as conn:
            # an added id that is stored already is replaced
            self._delete_ids(conn, [*remove_ids, *(row[0] for row in add_rows)])
            rows = [
                {
                    "id": cid,
                    "source": source,
                    "locator": loc,
                    "hash": h,
                    "text": body,
                    "language": lang,
                    "metadata": json.dumps(details, ensure_ascii=False),
                    "tokens": _TOKEN_SEP.join(toks),
                    "ingested_at": at,
                }
                for cid, loc, h, body, lang, details, toks, at in add_rows
            ]
            for start in range(0, len(rows), _BATCH):
                conn.execute(insert(chunks), rows[start : start + _BATCH])
            items = conn.execute(
                select(func.count()).select_from(chunks).where(chunks.c.source == source)
            ).scalar_one()
            self._put_source(conn, source, origin, "ok", int(items), now, "", fingerprint)
            if remove_ids or add_rows:
                self._bump(conn)  # caches and the keyword index follow the revision

    def mark_failed(self, source: str, origin: str, error: str, now: str) -> None:
        """Record a failed load; the chunks the source had keep serving."""
        with self._write() as conn:
            r = conn.execute(_SELECT_SOURCE.where(sources.c.name == source)).first()
            existing = SourceRecord(*r) if r else None
            items = existing.items if existing else 0
            # Items still serving came from where the source was last read: keep that origin, so
            # its file stays the one to download when a failed copy came from somewhere else.
            if existing is not None and existing.items and existing.origin:
                origin = existing.origin
            # The fingerprint is cleared so that the next run reads the file again.
            self._put_source(conn, source, origin, "failed", items, now, error, "")

    def drop_source(self, source: str) -> list[str]:
        with self._write() as conn:
            ids = list(conn.execute(select(chunks.c.id).where(chunks.c.source == source)).scalars())
            conn.execute(delete(chunks).where(chunks.c.source == source))
            conn.execute(delete(sources).where(sources.c.name == source))
            self._bump(conn)
            return ids

    def adopt(self, path: Path) -> int:
        """Copy the SQLite catalog at `path` (a data directory's, of either schema) into this
        one if this one never held anything: how a knowledge base kept under a data directory
        moves into the shared database on upgrade. Returns chunks copied (0: nothing to do).
        Workers starting together copy it once: they queue on a lock, and the later ones find
        the catalog taken."""
        if not path.is_file() or (self._dialect == "sqlite" and self._is_file(path)):
            return 0
        with self._write() as conn:
            if self._dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADOPT_LOCK_KEY})
            if not _untouched(conn):
                return 0
            former = Catalog.sqlite(path)
            try:
                with former.engine.connect() as source_conn:
                    copied = _copy_catalog(source_conn, conn)
            finally:
                former.close()
        if copied:
            log.info("catalog.adopted chunks=%d from=%s", copied, path)
        return copied

    # ---- helpers -------------------------------------------------------------------------

    def _is_file(self, path: Path) -> bool:
        database = self._engine.url.database
        return bool(database) and Path(str(database)).resolve() == path.resolve()

    def _insert(self, table: Table) -> Any:
        return postgresql.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    def _upsert(self, conn: Connection, table: Table, row: dict[str, Any], key: list[str]) -> None:
        statement = self._insert(table).values(**row)
        changed = {name: statement.excluded[name] for name in row if name not in key}
        conn.execute(statement.on_conflict_do_update(index_elements=key, set_=changed))

    def _put_source(
        self,
        conn: Connection,
        name: str,
        origin: str,
        status: str,
        items: int,
        now: str,
        error: str,
        fingerprint: str,
    ) -> None:
        row = {
            "name": name,
            "origin": origin,
            "status": status,
            "items": items,
            "last_ingest": now,
            "last_error": error,
            "fingerprint": fingerprint,
        }
        self._upsert(conn, sources, row, ["name"])

    @staticmethod
    def _delete_ids(conn: Connection, ids: Sequence[str]) -> None:
        query = delete(chunks).where(chunks.c.id.in_(bindparam("ids", expanding=True)))
        unique = sorted(set(ids))
        for start in range(0, len(unique), _BATCH):
            conn.execute(query, {"ids": unique[start : start + _BATCH]})

    def _bump(self, conn: Connection) -> None:
        """revision + 1, as one statement in the caller's transaction: the row lock it takes
        makes concurrent bumps queue, each adding to the value the one before committed."""
        statement = self._insert(meta).values(key=REVISION, value="1")
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={"value": cast(cast(meta.c.value, Integer) + 1, Text)},
            )
        )


def open_catalog(data_dir: Path, engine: Engine | None = None) -> Catalog:
    """The catalog a data directory serves: in `engine`'s database when given (the shared SQL
    database, into which a catalog still kept under `data_dir` moves once), else in the SQLite
    file under `data_dir`."""
    if engine is None:
        return Catalog.sqlite(data_dir / SQLITE_FILE)
    catalog = Catalog(engine)
    catalog.adopt(data_dir / SQLITE_FILE)
    return catalog


def _untouched(conn: Connection) -> bool:
    """Did this catalog never hold anything (no revision, no source, no chunk)?"""
    return (
        conn.execute(_SELECT_REVISION).first() is None
        and conn.execute(select(sources.c.name).limit(1)).first() is None
        and conn.execute(select(chunks.c.id).limit(1)).first() is None
    )


def _copy_catalog(source: Connection, target: Connection) -> int:
    """Every row of the catalog at `source` into the (untouched) one at `target`."""
    copied = 0
    batch: list[dict[str, Any]] = []
    for row in source.execute(select(chunks)).mappings():
        batch.append(dict(row))
        if len(batch) == _BATCH:
            target.execute(insert(chunks), batch)
            copied, batch = copied + len(batch), []
    if batch:
        target.execute(insert(chunks), batch)
        copied += len(batch)
    rows = [dict(r) for r in source.execute(select(sources)).mappings()]
    if rows:
        target.execute(insert(sources), rows)
    rows = [dict(r) for r in source.execute(select(meta)).mappings() if r["key"] != IDENTITY]
    if rows:
        target.execute(insert(meta), rows)
    return copied


_FORMER = {
    "chunks": "INSERT INTO knowledge_chunks (id, source, locator, hash, text, language, metadata,"
    " tokens, ingested_at) SELECT id, source, locator, hash, text, language, metadata, tokens,"
    " ingested_at FROM chunks",
    "sources": "INSERT INTO knowledge_sources (name, origin, status, items, last_ingest,"
    " last_error, fingerprint) SELECT name, origin, status, items, last_ingest, last_error,"
    " fingerprint FROM sources",
    "meta": "INSERT INTO knowledge_meta (key, value) SELECT key, value FROM meta",
}


def _absorb_former_tables(conn: Connection) -> None:
    """A catalog file of the former schema (tables chunks, sources, meta, before the catalog
    moved to SQLAlchemy): its rows move into the catalog's tables, then the old tables go, all
    in the caller's transaction, so a crash leaves the file as it was."""
    present = set(inspect(conn).get_table_names())
    if "chunks" not in present:
        return
    if _untouched(conn):
        for table, statement in _FORMER.items():
            if table in present:
                conn.exec_driver_sql(statement)
        moved = conn.execute(select(func.count()).select_from(chunks)).scalar_one()
        log.info("catalog.upgraded chunks=%d", moved)
    for table in _FORMER:
        if table in present:
            conn.exec_driver_sql(f"DROP TABLE {table}")
