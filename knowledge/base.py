"""The knowledge base: catalog + vector store + keyword index, kept in step by `sync_source`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.model import Chunk
from knowledge.catalog import Catalog
from knowledge.diff import SourceDiff, plan_sync
from knowledge.embedding import Embedder, serves
from knowledge.keyword_index import KeywordIndex
from knowledge.text import tokenize
from knowledge.vector_store import ChromaVectorStore, MemoryVectorStore, VectorStore

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KnowledgeBase:
    def __init__(
        self,
        catalog: Catalog,
        vectors: VectorStore,
        embedders: Sequence[Embedder],
        keyword: KeywordIndex,
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedders = list(embedders)
        self.keyword = keyword
        self._write_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embedders: Sequence[Embedder],
        chroma_url: str | None = None,
    ) -> KnowledgeBase:
        """Open (or create) the knowledge base stored under `data_dir`."""
        data_dir.mkdir(parents=True, exist_ok=True)
        store: VectorStore = (
            ChromaVectorStore.http(chroma_url)
            if chroma_url
            else ChromaVectorStore.persistent(data_dir / "chroma")
        )
        return cls(Catalog(data_dir / "catalog.sqlite3"), store, embedders, KeywordIndex(data_dir / "keyword"))

    @classmethod
    def in_memory(cls, embedders: Sequence[Embedder], directory: Path) -> KnowledgeBase:
        """A catalog on disk with vectors in memory: for unit tests."""
        return cls(Catalog(directory / "catalog.sqlite3"), MemoryVectorStore(), embedders, KeywordIndex())

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
        """Make the stored chunks of `source` equal to `chunks`, embedding only what is new."""
        with self._write_lock:
            stored = self.catalog.chunk_states(source)
            plan = plan_sync(source, stored, chunks)
            if dry_run:
                return plan.diff
            wanted = {c.id: c for c in chunks}
            for embedder in self.embedders:
                plan.diff.embedded += self._embed_missing(embedder, list(wanted.values()), progress)
            now = _now()
            rows = [
                (c.id, c.locator, c.hash, c.text, c.metadata.get("language", "und"),
                 c.metadata, tokenize(c.text), now)
                for c in plan.new_chunks
            ]
            self.catalog.replace_source(source, origin, plan.remove_ids, rows, now, fingerprint)
            for embedder in self.embedders:
                self.vectors.delete(embedder.name, plan.remove_ids)
            return plan.diff

    def _embed_missing(
        self, embedder: Embedder, chunks: list[Chunk], progress: Progress | None
    ) -> int:
        mine = [c for c in chunks if serves(embedder, c.metadata.get("language", "und"))]
        if not mine:
            return 0
        present = self.vectors.present(embedder.name, [c.id for c in mine])
        missing = [c for c in mine if c.id not in present]
        if not missing:
            return 0
        # Text that is already embedded elsewhere (a moved row, a duplicate) reuses its vector.
        reuse: dict[str, np.ndarray] = {}
        same_text = self.catalog.ids_with_hashes(c.hash for c in missing)
        donors = [i for ids in same_text.values() for i in ids]
        if donors:
            by_id = self.vectors.vectors(embedder.name, donors)
            for h, ids in same_text.items():
                for i in ids:
                    if i in by_id:
                        reuse[h] = by_id[i]
                        break
        to_embed = [c for c in missing if c.hash not in reuse]
        computed: dict[str, np.ndarray] = {}
        batch = 256
        for start in range(0, len(to_embed), batch):
            part = to_embed[start : start + batch]
            vecs = embedder.embed_passages([c.text for c in part])
            for c, v in zip(part, vecs, strict=True):
                computed[c.hash] = v
            if progress:
                progress(len(part))
        vectors = np.vstack([computed.get(c.hash, reuse.get(c.hash)) for c in missing])
        metas = [
            {
                "source": c.source,
                "locator": c.locator,
                "language": c.metadata.get("language", "und"),
                "hash": c.hash,
            }
            for c in missing
        ]
        self.vectors.upsert(embedder.name, [c.id for c in missing], vectors, metas)
        return len(to_embed)

    def mark_failed(self, source: str, error: str, origin: str = "") -> None:
        self.catalog.mark_failed(source, origin, error, _now())

    def drop_source(self, source: str) -> int:
        with self._write_lock:
            ids = self.catalog.drop_source(source)
            for embedder in self.embedders:
                self.vectors.delete(embedder.name, ids)
            return len(ids)

    # ---- reading -------------------------------------------------------------------------

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index, rebuilt (or loaded from disk) if the catalog moved since."""
        revision = self.catalog.revision()
        if self.keyword.revision != revision and not self.keyword.load(revision):
            ids, tokens = self.catalog.all_tokens()
            self.keyword.build(ids, tokens, revision)
        return self.keyword

