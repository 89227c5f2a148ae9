"""Vector stores: the `VectorStore` protocol, Chroma (embedded or server), Chroma searched in
this process's memory, and an in-memory store."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

Metadata = Mapping[str, str | int | float | bool]


class VectorStore(Protocol):
    """One collection per embedder. Similarity is cosine, higher is closer."""

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Metadata],
    ) -> None: ...

    def delete(self, collection: str, ids: Sequence[str]) -> None: ...

    def vectors(self, collection: str, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def present(self, collection: str, ids: Sequence[str]) -> set[str]: ...

    def query(self, collection: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]: ...

    def count(self, collection: str) -> int: ...


class MemoryVectorStore:
    """Exact cosine search over numpy arrays, for unit tests and small throwaway indexes."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, np.ndarray]] = {}
        # searches read while ingests write (two at once, each in its own lane)
        self._lock = threading.Lock()

    def _col(self, collection: str) -> dict[str, np.ndarray]:
        return self._data.setdefault(collection, {})

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Metadata],
    ) -> None:
        with self._lock:
            col = self._col(collection)
            for i, v in zip(ids, vectors, strict=True):
                col[i] = np.asarray(v, dtype=np.float32)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        with self._lock:
            col = self._col(collection)
            for i in ids:
                col.pop(i, None)

    def vectors(self, collection: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            col = self._col(collection)
            return {i: col[i] for i in ids if i in col}

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        with self._lock:
            col = self._col(collection)
            return {i for i in ids if i in col}

    def query(self, collection: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        with self._lock:
            col = self._col(collection)
            if not col:
                return []
            keys = list(col)
            matrix = np.vstack([col[key] for key in keys])
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        top = np.argsort(-sims)[:k]
        return [(keys[i], float(sims[i])) for i in top]

    def count(self, collection: str) -> int:
        with self._lock:
            return len(self._col(collection))


class ChromaVectorStore:
    """chromadb: a `PersistentClient` under the data directory, or an `HttpClient` to a server.

    Embeddings are always computed by kefu and passed in; no collection has an embedding
    function, because chromadb's default one downloads a model.
    """

    _BATCH = 2000

    def __init__(self, client: Any, prefix: str = "kefu") -> None:
        self._client = client
        self._prefix = prefix
        self._collections: dict[str, Any] = {}

    @classmethod
    def persistent(cls, path: Path, prefix: str = "kefu") -> ChromaVectorStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        return cls(client, prefix)

    @classmethod
    def http(cls, url: str, prefix: str = "kefu") -> ChromaVectorStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlparse(url)
        client = chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        return cls(client, prefix)

    def heartbeat(self) -> None:
        """Raises when the Chroma server (or the embedded database) does not answer."""
        self._client.heartbeat()

    def _col(self, collection: str) -> Any:
        if collection not in self._collections:
            self._collections[collection] = self._client.get_or_create_collection(
                f"{self._prefix}_{collection}",
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", "ef_search": 200}},
            )
        return self._collections[collection]

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Metadata],
    ) -> None:
        col = self._col(collection)
        for start in range(0, len(ids), self._BATCH):
            end = start + self._BATCH
            col.upsert(
                ids=list(ids[start:end]),
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=[dict(m) for m in metadatas[start:end]] or None,
            )

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        col = self._col(collection)
        for start in range(0, len(ids), self._BATCH):
            col.delete(ids=list(ids[start : start + self._BATCH]))

    def vectors(self, collection: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        col = self._col(collection)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), self._BATCH):
            got = col.get(ids=list(ids[start : start + self._BATCH]), include=["embeddings"])
            for i, v in zip(got["ids"], got["embeddings"], strict=True):
                found[i] = np.asarray(v, dtype=np.float32)
        return found

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        col = self._col(collection)
        found: set[str] = set()
        for start in range(0, len(ids), self._BATCH):
            found.update(col.get(ids=list(ids[start : start + self._BATCH]), include=[])["ids"])
        return found

    def query(self, collection: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        col = self._col(collection)
        # No count() first: Chroma 1.5 accepts n_results beyond the collection's size (and an
        # empty collection), and count() held the GIL for most of a turn's time under load.
        got = col.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            include=["distances"],
        )
        if not got["ids"] or not got["ids"][0]:
            return []
        return [
            (i, 1.0 - float(d)) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)
        ]

    def count(self, collection: str) -> int:
        return int(self._col(collection).count())

    def everything(self, collection: str) -> tuple[list[str], np.ndarray]:
        """Every id of a collection and its vector, in pages."""
        col = self._col(collection)
        ids: list[str] = []
        parts: list[np.ndarray] = []
        offset = 0
        while True:
            got = col.get(include=["embeddings"], limit=self._BATCH, offset=offset)
            if not got["ids"]:
                break
            ids.extend(got["ids"])
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
            offset += len(got["ids"])
        return ids, (np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32))


# Collections up to this many vectors are searched in this process's memory (a collection of
# 100,000 e5 vectors is 150 MB); larger ones in Chroma.
MIRROR_MAX_VECTORS = 100_000


class _Mirror:
    """One collection's vectors as rows of a matrix (`ids[i]` is row i) with their lengths."""

    def __init__(self, ids: list[str], matrix: np.ndarray) -> None:
        self.ids = ids
        self.row = {i: n for n, i in enumerate(ids)}
        self.matrix = matrix  # capacity rows; the first len(ids) are live
        self.norms = np.linalg.norm(matrix, axis=1) if len(matrix) else np.zeros(0, np.float32)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if not self.ids and self.matrix.shape[1:] != vectors.shape[1:]:
            self.matrix = np.zeros((0, vectors.shape[1]), dtype=np.float32)
            self.norms = np.zeros(0, dtype=np.float32)
        for i, v in zip(ids, vectors, strict=True):
            n = self.row.get(i)
            if n is None:
                n = len(self.ids)
                if n == len(self.matrix):
                    capacity = max(2 * n, 64)
                    grown = np.zeros((capacity, vectors.shape[1]), dtype=np.float32)
                    grown[:n] = self.matrix[:n]
                    norms = np.zeros(capacity, dtype=np.float32)
                    norms[:n] = self.norms[:n]
                    self.matrix, self.norms = grown, norms
                self.ids.append(i)
                self.row[i] = n
            self.matrix[n] = v
            self.norms[n] = np.linalg.norm(v)

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            n = self.row.pop(i, None)
            if n is None:
                continue
            last = len(self.ids) - 1
            if n != last:  # the last row takes the deleted one's place
                moved = self.ids[last]
                self.ids[n] = moved
                self.row[moved] = n
                self.matrix[n] = self.matrix[last]
                self.norms[n] = self.norms[last]
            self.ids.pop()


class MirroredVectorStore:
    """A Chroma directory this process owns, searched exactly in memory: every write goes
    through this store, so the copy of each collection (read from Chroma at its first search)
    stays the same as Chroma's. A turn's vector search was 3 ms of Chroma's query against
    well under a millisecond for the product of one vector with a few thousand
    (eval/profile_turn.py). Collections beyond MIRROR_MAX_VECTORS stay in Chroma."""

    def __init__(self, inner: ChromaVectorStore) -> None:
        self.inner = inner
        self._mirrors: dict[str, _Mirror | None] = {}  # None: too large, Chroma searches it
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # heartbeat and the like: Chroma's
        return getattr(self.inner, name)

    def _mirror(self, collection: str) -> _Mirror | None:
        with self._lock:  # a write meanwhile updates the copy once it is there
            if collection not in self._mirrors:
                self._mirrors[collection] = self._load(collection)
            return self._mirrors[collection]

    def _load(self, collection: str) -> _Mirror | None:
        if self.inner.count(collection) > MIRROR_MAX_VECTORS:
            return None
        ids, vectors = self.inner.everything(collection)
        return _Mirror(ids, vectors if ids else np.zeros((0, 0), dtype=np.float32))

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadatas: Sequence[Metadata],
    ) -> None:
        # Chroma first, then the copy: a search in between reads what was there before, and a
        # copy loaded in between already has the write (applying it again changes nothing).
        self.inner.upsert(collection, ids, vectors, metadatas)
        with self._lock:
            mirror = self._mirrors.get(collection)
            if mirror is not None:
                mirror.upsert(ids, vectors)
                if len(mirror.ids) > MIRROR_MAX_VECTORS:
                    self._mirrors[collection] = None

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        self.inner.delete(collection, ids)
        with self._lock:
            mirror = self._mirrors.get(collection)
            if mirror is not None:
                mirror.delete(ids)

    def vectors(self, collection: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        mirror = self._mirrors.get(collection)
        if mirror is None:
            return self.inner.vectors(collection, ids)
        with self._lock:
            rows = {i: mirror.row[i] for i in ids if i in mirror.row}
            return {i: mirror.matrix[n].copy() for i, n in rows.items()}

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        mirror = self._mirrors.get(collection)
        if mirror is None:
            return self.inner.present(collection, ids)
        with self._lock:
            return {i for i in ids if i in mirror.row}

    def query(self, collection: str, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        mirror = self._mirror(collection)
        if mirror is None:
            return self.inner.query(collection, vector, k)
        with self._lock:
            live = len(mirror.ids)
            if not live:
                return []
            query = np.asarray(vector, dtype=np.float32).reshape(-1)
            sims = (mirror.matrix[:live] @ query) / np.maximum(
                mirror.norms[:live] * np.linalg.norm(query), 1e-12
            )
            ids = list(mirror.ids)
        top = np.argpartition(-sims, k - 1)[:k] if k < live else np.arange(live)
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(ids[i], float(sims[i])) for i in top]

    def count(self, collection: str) -> int:
        return self.inner.count(collection)
