"""BM25 over jieba/word tokens (bm25s), one per worker; its files under the data directory
are a cache of what the catalog's tokens give."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

log = logging.getLogger(__name__)

IDS_FILE = "kefu_ids.json"


class KeywordIndex:
    """A BM25 index over the catalog's tokens, rebuilt when the catalog's revision moves.

    Tokenising is the costly part of keyword indexing and is done once per chunk at ingest
    (the tokens live in the catalog); turning tokens into the BM25 matrix takes well under a
    second for tens of thousands of chunks, so the matrix is rebuilt rather than patched.
    """

    def __init__(self, directory: Path | None = None, k1: float = 1.2, b: float = 0.75) -> None:
        self._dir = directory
        self._k1 = k1
        self._b = b
        self._ids: list[str] = []
        self._bm25: bm25s.BM25 | None = None
        self._token_best: np.ndarray = np.zeros(0, dtype=np.float32)
        self.revision = -1
        self._lock = threading.Lock()

    def build(
        self,
        ids: Sequence[str],
        tokens: Sequence[Sequence[str]],
        revision: int,
        catalog: str = "",
    ) -> None:
        """Index `tokens` (one list per id) as of the catalog's `revision`; `catalog` names the
        catalog, so that the files saved are not taken for another's at the same revision."""
        bm25 = None
        if ids:
            bm25 = bm25s.BM25(k1=self._k1, b=self._b)
            bm25.index([list(t) for t in tokens], show_progress=False)
        with self._lock:
            self._ids, self._bm25, self.revision = list(ids), bm25, revision
            self._token_best = _best_per_token(bm25)
        self._save(catalog)

    def _save(self, catalog: str) -> None:
        """Write the index beside its directory, then swap it in. Threads and worker processes
        sharing the data directory each write a directory of their own; when two swap at once,
        one wins and the other's copy (of the same catalog) is dropped: the files are a cache."""
        if self._dir is None:
            return
        with self._lock:
            bm25, ids, revision = self._bm25, self._ids, self.revision
        self._dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=self._dir.name + ".tmp-", dir=self._dir.parent))
        old = tmp.with_name(tmp.name.replace(".tmp-", ".old-"))
        try:
            if bm25 is not None:
                bm25.save(str(tmp), show_progress=False)
            (tmp / IDS_FILE).write_text(
                json.dumps({"catalog": catalog, "revision": revision, "ids": ids}),
                encoding="utf-8",
            )
            with contextlib.suppress(FileNotFoundError):
                self._dir.rename(old)
            tmp.rename(self._dir)
        except OSError as e:  # another writer swapped its copy in first
            log.info("keyword.save_skipped error=%s", e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    def load(self, revision: int, catalog: str = "") -> bool:
        """Load the persisted index if it was built from `catalog` at `revision`; False when
        there is none, it is of another revision or catalog, or it changed while being read."""
        if self._dir is None:
            return False
        try:
            saved = self._saved()
            if saved["revision"] != revision or saved.get("catalog", "") != catalog:
                return False
            bm25 = bm25s.BM25.load(str(self._dir), show_progress=False) if saved["ids"] else None
            if self._saved() != saved:
                return False
        except Exception as e:  # the files are a cache: unreadable means rebuilt
            # Read while another writer swapped its copy in, a file may end or mismatch anywhere
            # (OSError, ValueError, EOFError, an index out of range inside bm25s): rebuilt.
            log.info("keyword.load_skipped error=%r", e)
            return False
        with self._lock:
            self._ids, self._bm25, self.revision = saved["ids"], bm25, revision
            self._token_best = _best_per_token(bm25)
        return True

    def _saved(self) -> dict:
        assert self._dir is not None
        return json.loads((self._dir / IDS_FILE).read_text(encoding="utf-8"))

    def ceiling(self, tokens: Sequence[str]) -> float:
        """The most any one chunk could score for these tokens: the sum over the query's tokens
        of the best score that token gives any chunk. A chunk's score over this says how much
        of the question it matches, on one scale for every question and knowledge base."""
        with self._lock:
            bm25, best = self._bm25, self._token_best
        if bm25 is None:
            return 0.0
        ids = [bm25.vocab_dict[t] for t in tokens if t in bm25.vocab_dict]
        return float(best[ids].sum()) if ids else 0.0

    def search(self, tokens: Sequence[str], k: int) -> list[tuple[str, float]]:
        with self._lock:
            bm25, ids = self._bm25, self._ids
        if bm25 is None or not tokens:
            return []
        known = [t for t in tokens if t in bm25.vocab_dict]
        if not known:
            return []
        scores = bm25.get_scores(known)
        n = min(k, len(ids))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]


def _best_per_token(bm25: bm25s.BM25 | None) -> np.ndarray:
    """Each vocabulary token's best score over the chunks (bm25s keeps scores per token)."""
    if bm25 is None:
        return np.zeros(0, dtype=np.float32)
    data, indptr = bm25.scores["data"], bm25.scores["indptr"]
    best = np.zeros(len(indptr) - 1, dtype=np.float32)
    filled = np.diff(indptr) > 0
    if filled.any():
        best[filled] = np.maximum.reduceat(data, indptr[:-1][filled])
    return best
