"""Vector stores: the `VectorStore` protocol, Chroma (embedded or server) and an in-memory store."""

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
