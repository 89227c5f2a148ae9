"""The catalog: which chunks each source holds, their text, tokens and metadata (SQLite).

It is the source of truth for what is served; vectors and the keyword index follow it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    locator TEXT NOT NULL,
    hash TEXT NOT NULL,
    text TEXT NOT NULL,
    language TEXT NOT NULL,
    metadata TEXT NOT NULL,
    tokens TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(hash);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    items INTEGER NOT NULL,
    last_ingest TEXT NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_TOKEN_SEP = "\x1f"


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


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    # revisions let the keyword index and caches know when to rebuild
    def revision(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0]) if row else 0

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def retokenize(self, tokenize: Callable[[str], Sequence[str]]) -> int:
        """Recompute every chunk's keyword tokens (after the tokenizer changed)."""
        with self._lock:
            rows = self._db.execute("SELECT id, text FROM chunks").fetchall()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "UPDATE chunks SET tokens=? WHERE id=?",
                    [(_TOKEN_SEP.join(tokenize(text)), cid) for cid, text in rows],
                )
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return len(rows)

    def chunk_states(self, source: str) -> dict[str, tuple[str, str, str]]:
        """id → (locator, hash, ingested_at) for one source."""
        rows = self._db.execute(
            "SELECT id, locator, hash, ingested_at FROM chunks WHERE source=?", (source,)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def ids_with_hashes(self, hashes: Iterable[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        hs = list(set(hashes))
        for start in range(0, len(hs), 500):
            part = hs[start : start + 500]
            marks = ",".join("?" * len(part))
            for cid, h in self._db.execute(
                f"SELECT id, hash FROM chunks WHERE hash IN ({marks})", part
            ):
                found.setdefault(h, []).append(cid)
        return found

    def get(self, ids: Sequence[str]) -> dict[str, StoredChunk]:
        found: dict[str, StoredChunk] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            for r in self._db.execute(
                "SELECT id, source, locator, hash, text, language, metadata, ingested_at, "
                f"tokens FROM chunks WHERE id IN ({marks})",
                part,
            ):
                found[r[0]] = StoredChunk(
                    r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8] or ""
                )
        return found

    def languages(self) -> dict[str, str]:
        """id → language of every chunk."""
        return dict(self._db.execute("SELECT id, language FROM chunks"))

    def all_tokens(self) -> tuple[list[str], list[list[str]]]:
        ids: list[str] = []
        tokens: list[list[str]] = []
        for cid, toks in self._db.execute("SELECT id, tokens FROM chunks ORDER BY id"):
            ids.append(cid)
            tokens.append(toks.split(_TOKEN_SEP) if toks else [])
        return ids, tokens

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def sources(self) -> list[SourceRecord]:
        rows = self._db.execute(
            "SELECT name, origin, status, items, last_ingest, last_error, fingerprint FROM sources "
            "ORDER BY name"
        )
        return [SourceRecord(*r) for r in rows]

    def source(self, name: str) -> SourceRecord | None:
        r = self._db.execute(
            "SELECT name, origin, status, items, last_ingest, last_error, fingerprint FROM sources "
            "WHERE name=?",
            (name,),
        ).fetchone()
        return SourceRecord(*r) if r else None

    def replace_source(
        self,
        source: str,
        origin: str,
        remove_ids: Sequence[str],
        add_rows: Sequence[tuple[str, str, str, str, str, dict[str, Any], Sequence[str], str]],
        now: str,
        fingerprint: str = "",
    ) -> None:
        """In one transaction: drop `remove_ids`, insert `add_rows`, mark the source ok."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM chunks WHERE id=?", [(i,) for i in remove_ids])
                self._db.executemany(
                    "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            cid,
                            source,
                            loc,
                            h,
                            text,
                            lang,
                            json.dumps(meta, ensure_ascii=False),
                            _TOKEN_SEP.join(toks),
                            at,
                        )
                        for cid, loc, h, text, lang, meta, toks, at in add_rows
                    ],
                )
                items = self._db.execute(
                    "SELECT COUNT(*) FROM chunks WHERE source=?", (source,)
                ).fetchone()[0]
                self._db.execute(
                    "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?)",
                    (source, origin, "ok", items, now, "", fingerprint),
                )
                if remove_ids or add_rows:
                    self._bump()  # caches and the keyword index follow the revision
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def mark_failed(self, source: str, origin: str, error: str, now: str) -> None:
        """Record a failed load; the chunks the source had keep serving."""
        with self._lock:
            existing = self.source(source)
            items = existing.items if existing else 0
            # Items still serving came from where the source was last read: keep that origin, so
            # its file stays the one to download when a failed copy came from somewhere else.
            if existing is not None and existing.items and existing.origin:
                origin = existing.origin
            # The fingerprint is cleared so that the next run reads the file again.
            self._db.execute(
                "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?)",
                (source, origin, "failed", items, now, error, ""),
            )

    def drop_source(self, source: str) -> list[str]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [
                    r[0]
                    for r in self._db.execute("SELECT id FROM chunks WHERE source=?", (source,))
                ]
                self._db.execute("DELETE FROM chunks WHERE source=?", (source,))
                self._db.execute("DELETE FROM sources WHERE name=?", (source,))
                self._bump()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return ids

    def _bump(self) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES ('revision', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
