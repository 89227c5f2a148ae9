"""The knowledge base: catalog + vector store + keyword index, kept in step by `sync_source`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from ingest.model import Chunk
from knowledge.catalog import SQLITE_FILE, Catalog, open_catalog
from knowledge.diff import SourceDiff, SyncPlan, plan_sync
from knowledge.embedding import Embedder, serves
from knowledge.keyword_index import KeywordIndex
from knowledge.text import TOKENIZER_VERSION, tokenize
from knowledge.vector_store import (
    ChromaVectorStore,
    MemoryVectorStore,
    MirroredVectorStore,
    VectorStore,
)

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

# Texts embedded per call; a cancelled ingest stops after the batch it is in.
EMBED_BATCH = 64

# A catalog with more items than this has its keyword index rebuilt in the background while the
# previous one serves (eval.bench_keyword: 10,000 items build in about half a second on an idle
# 2-core machine, 100,000 in several seconds).
KEYWORD_REBUILD_BEHIND = 20_000

# Suffix of the id of a FAQ row's second vector, the one of its question alone.
QUESTION_VIEW = "::q"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KnowledgeBase:
    def __init__(
        self,
        catalog: Catalog,
        vectors: VectorStore,
        embedders: Sequence[Embedder],
        keyword: KeywordIndex,
        question_vectors: bool = True,
    ) -> None:
        self.question_vectors = question_vectors
        self.catalog = catalog
        if catalog.meta("tokenizer") is None and catalog.count() == 0:
            catalog.set_meta("tokenizer", TOKENIZER_VERSION)
        self.vectors = vectors
        self.embedders = list(embedders)
        self.keyword = keyword
        self._write_lock = threading.Lock()  # the catalog's switch to a source's new chunks
        self._source_locks: dict[str, threading.Lock] = {}  # one sync of a source at a time
        self._locks_guard = threading.Lock()
        self._keyword_rebuilding = threading.Lock()  # held while a background rebuild runs
        self._keyword_building = threading.Lock()  # one turn at a time loads or builds it

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embedders: Sequence[Embedder],
        chroma_url: str | None = None,
        engine: Engine | None = None,
    ) -> KnowledgeBase:
        """Open (or create) the knowledge base of `data_dir`: its catalog in `engine`'s database
        when given (the shared SQL database, where a catalog still kept under `data_dir` moves
        once), else in a SQLite file under `data_dir`; its vectors on the Chroma server at
        `chroma_url`, else under `data_dir`. The keyword index's files there are a cache."""
        data_dir.mkdir(parents=True, exist_ok=True)
        # A Chroma directory belongs to one process: searched in its memory. A Chroma server
        # is shared with the other workers' writes: searched there.
        store: VectorStore = (
            ChromaVectorStore.http(chroma_url)
            if chroma_url
            else MirroredVectorStore(ChromaVectorStore.persistent(data_dir / "chroma"))
        )
        catalog = open_catalog(data_dir, engine)
        return cls(catalog, store, embedders, KeywordIndex(data_dir / "keyword"))

    @classmethod
    def in_memory(cls, embedders: Sequence[Embedder], directory: Path) -> KnowledgeBase:
        """A catalog on disk with vectors in memory: for unit tests."""
        return cls(
            Catalog.sqlite(directory / SQLITE_FILE), MemoryVectorStore(), embedders, KeywordIndex()
        )

    # ---- writing -------------------------------------------------------------------------

    def sync_source(
        self,
        source: str,
        chunks: Sequence[Chunk],
        *,
        origin: str = "",
        fingerprint: str = "",
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> SourceDiff:
        """Make the stored chunks of `source` equal to `chunks`, embedding only what is new.

        The embedding runs outside the knowledge base's write lock (one sync of a source at a
        time): vectors serve nothing until the catalog names their chunks, so a long file does
        not hold up another's sync, and a `progress` callback that raises (a cancelled job)
        leaves the serving knowledge as it was, its new vectors deleted again."""
        with self._source_lock(source):
            stored = self.catalog.chunk_states(source)
            plan = plan_sync(source, stored, chunks)
            if dry_run:
                return plan.diff
            wanted = list({c.id: c for c in chunks}.values())
            written: list[tuple[str, list[str]]] = []  # (embedder, view ids) added here
            try:
                for embedder in self.embedders:
                    plan.diff.embedded += self._embed_missing(embedder, wanted, progress, written)
            except BaseException:
                for name, ids in written:
                    self.vectors.delete(name, ids)
                raise
            with self._write_lock:
                self._replace(source, plan, origin, fingerprint)
            return plan.diff

    def _replace(self, source: str, plan: SyncPlan, origin: str, fingerprint: str) -> None:
        """The catalog's switch to the new chunks (under the write lock); then the vectors of
        the removed ones go."""
        now = _now()
        rows = [
            (
                c.id,
                c.locator,
                c.hash,
                c.text,
                c.metadata.get("language", "und"),
                c.metadata,
                tokenize(c.text),
                now,
            )
            for c in plan.new_chunks
        ]
        self.catalog.replace_source(source, origin, plan.remove_ids, rows, now, fingerprint)
        self._delete_vectors(plan.remove_ids)

    def _source_lock(self, source: str) -> threading.Lock:
        with self._locks_guard:
            return self._source_locks.setdefault(source, threading.Lock())

    def vector_views(self, chunk: Chunk) -> list[tuple[str, str]]:
        """(id suffix, text) of each vector a chunk gets: its text, and its question alone.

        A customer's question is closer to the FAQ's question than to question + answer, so a
        FAQ row is also findable by a vector of its question (measured in eval/).
        """
        views = [("", chunk.text)]
        question = str(chunk.metadata.get("question") or "").strip()
        # Only rows with a question and an answer column: in other tables the "question" is
        # just the row's first cell, and a second vector of it would not help.
        has_answer = bool(str(chunk.metadata.get("answer") or "").strip())
        if self.question_vectors and has_answer and question and question != chunk.text.strip():
            views.append((QUESTION_VIEW, question))
        return views

    def _embed_missing(
        self,
        embedder: Embedder,
        chunks: list[Chunk],
        progress: Progress | None,
        written: list[tuple[str, list[str]]],
    ) -> int:
        """Store vectors for the chunks this embedder serves and lacks (their ids go into
        `written`); returns chunks embedded."""
        mine = [c for c in chunks if serves(embedder, c.metadata.get("language", "und"))]
        if not mine:
            return 0
        present = self.vectors.present(embedder.name, [c.id for c in mine])
        missing = [c for c in mine if c.id not in present]
        if not missing:
            return 0
        # Text that is already embedded elsewhere (a moved row, a duplicate) reuses its vectors.
        reuse: dict[tuple[str, str], np.ndarray] = {}
        same_text = self.catalog.ids_with_hashes(c.hash for c in missing)
        donors = [i + v for found in same_text.values() for i in found for v in ("", QUESTION_VIEW)]
        if donors:
            by_id = self.vectors.vectors(embedder.name, donors)
            for h, found in same_text.items():
                for i in found:
                    for v in ("", QUESTION_VIEW):
                        if i + v in by_id:
                            reuse.setdefault((h, v), by_id[i + v])
        todo = [
            (c, suffix, text)
            for c in missing
            for suffix, text in self.vector_views(c)
            if (c.hash, suffix) not in reuse
        ]
        computed: dict[tuple[str, str], np.ndarray] = {}
        batch = EMBED_BATCH
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            vecs = embedder.embed_passages([text for _, _, text in part])
            for (c, suffix, _), v in zip(part, vecs, strict=True):
                computed[(c.hash, suffix)] = v
            if progress:
                progress(len({c.id for c, _, _ in part}))
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        metas: list[dict[str, str]] = []
        for c in missing:
            for suffix, _ in self.vector_views(c):
                ids.append(c.id + suffix)
                key = (c.hash, suffix)
                vectors.append(computed[key] if key in computed else reuse[key])
                metas.append(
                    {
                        "source": c.source,
                        "locator": c.locator,
                        "language": c.metadata.get("language", "und"),
                        "hash": c.hash,
                        "view": "question" if suffix else "text",
                    }
                )
        written.append((embedder.name, ids))
        self.vectors.upsert(embedder.name, ids, np.vstack(vectors), metas)
        return len({c.id for c, _, _ in todo})

    def _delete_vectors(self, ids: Sequence[str]) -> None:
        view_ids = [i + v for i in ids for v in ("", QUESTION_VIEW)]
        for embedder in self.embedders:
            self.vectors.delete(embedder.name, view_ids)

    def mark_failed(self, source: str, error: str, origin: str = "") -> None:
        self.catalog.mark_failed(source, origin, error, _now())

    def drop_source(self, source: str) -> int:
        with self._source_lock(source), self._write_lock:
            ids = self.catalog.drop_source(source)
            self._delete_vectors(ids)
            return len(ids)

    # ---- reading -------------------------------------------------------------------------

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index, rebuilt (or loaded from disk) if the catalog moved since: each worker
        keeps its own, and one whose catalog another worker changed rebuilds it here.

        A large catalog (over KEYWORD_REBUILD_BEHIND items) is rebuilt in the background while
        the index of the previous revision keeps serving, so no customer's turn waits seconds
        for it; a small one, in well under a second, at once."""
        if self.catalog.meta("tokenizer") != TOKENIZER_VERSION:
            # Stored tokens came from another version of the tokenizer.
            n = self.catalog.retokenize(tokenize)
            self.catalog.set_meta("tokenizer", TOKENIZER_VERSION)
            log.info("keyword.retokenized chunks=%d version=%s", n, TOKENIZER_VERSION)
        revision = self.catalog.revision()
        if self.keyword.revision == revision or self._keyword_rebuilding.locked():
            return self.keyword
        with self._keyword_building:  # turns that arrive meanwhile wait for this one's index
            if self.keyword.revision == revision or self._keyword_rebuilding.locked():
                return self.keyword
            # the files under the data directory are a cache, of this catalog only
            identity = self.catalog.identity()
            if self.keyword.load(revision, identity):
                return self.keyword
            if self.keyword.revision >= 0 and self.catalog.count() > KEYWORD_REBUILD_BEHIND:
                self._rebuild_keyword_behind()
                return self.keyword
            ids, tokens = self.catalog.all_tokens()
            self.keyword.build(ids, tokens, revision, identity)
            return self.keyword

    def _rebuild_keyword_behind(self) -> None:
        """Rebuild the keyword index in a thread of its own, one rebuild at a time, until it
        has caught up with the catalog's revision."""
        if not self._keyword_rebuilding.acquire(blocking=False):
            return

        def rebuild() -> None:
            try:
                while (revision := self.catalog.revision()) != self.keyword.revision:
                    ids, tokens = self.catalog.all_tokens()
                    self.keyword.build(ids, tokens, revision, self.catalog.identity())
                    log.info("keyword.rebuilt_behind revision=%d chunks=%d", revision, len(ids))
            except Exception:  # the next search after the next change tries again
                log.exception("keyword.rebuild_failed")
            finally:
                self._keyword_rebuilding.release()

        threading.Thread(target=rebuild, name="keyword-rebuild", daemon=True).start()

    def wait_for_keyword_index(self, timeout: float = 120) -> bool:
        """Wait for a background rebuild to end (for tests and measurements); whether it did."""
        if not self._keyword_rebuilding.acquire(timeout=timeout):
            return False
        self._keyword_rebuilding.release()
        return True
