"""The packaged encoders run on ONNX Runtime: the same weights, tokens, pooling and unit length
as their packages compute, several times faster per query on CPU."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from knowledge.onnx_export import EncoderCache, Precision
from knowledge.packaged_weights import PackagedEncoder


class OnnxEmbedder:
    """An `Embedder` over a packaged encoder exported to ONNX (built into `cache` on first use).

    Texts of a batch are sorted by length so that each run pads little; a text longer than the
    model's window is the weighted mean of its windows, normalised once at the end.
    """

    def __init__(
        self,
        encoder: PackagedEncoder,
        precision: Precision = "fp32",
        cache: EncoderCache | None = None,
        languages: frozenset[str] | None = None,
        num_threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        self.encoder = encoder
        self.precision = precision
        self.name = encoder.name
        self.languages = languages
        self.dim = encoder.dim
        self._cache = cache or EncoderCache()
        self._num_threads = num_threads
        self._batch_size = batch_size
        self._session: Any = None
        self._lock = threading.Lock()

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                path = self._cache.model(self.encoder, self.precision)
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.intra_op_num_threads = self._num_threads or 0
                options.inter_op_num_threads = 1
                # Spinning threads steal the cores from every other process on a shared host
                # (and from the web server's own threads), for little gain on short queries.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def _embed(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self.session()
        windows = self.encoder.windows(texts, is_query)
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        for start in range(0, len(order), self._batch_size):
            part = [windows[i] for i in order[start : start + self._batch_size]]
            width = max(len(w.ids) for w in part)
            ids = np.zeros((len(part), width), dtype=np.int64)
            mask = np.zeros((len(part), width), dtype=np.int64)
            for row, w in enumerate(part):
                ids[row, : len(w.ids)] = w.ids
                mask[row, : len(w.ids)] = 1
            (pooled,) = session.run(["pooled"], {"input_ids": ids, "attention_mask": mask})
            for row, w in enumerate(part):
                sums[w.text] += w.weight * pooled[row]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, is_query=True)
