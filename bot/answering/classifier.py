"""Which answer a question asks for, learned from the knowledge base's own rows.

A FAQ sheet often words one question several ways, one row per phrasing, all with the same
answer. A linear classifier over the rows' question vectors (one multinomial logistic
regression per embedder, on the vectors the knowledge base already holds) then tells which
answer a new question wants better than its nearest rows alone do, and how sure it is: on
CLINC150 it lifts the right answer first from .92 to .95 and its probability is the strongest
refusal signal (eval/refusal.py). It is fitted after ingest, stored under the data directory
with the catalog revision it was fitted on, and ignored once the knowledge changes until it is
fitted again. Knowledge bases with about one row per answer gain nothing and get none.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.candidates import answer_key_of
from bot.answering.scale import refresh_scale
from knowledge.base import QUESTION_VIEW, KnowledgeBase
from knowledge.embedding import serves

log = logging.getLogger(__name__)
CLASSIFIER_FILE = "answer_classifier.npz"
MIN_ROWS_PER_ANSWER = 2.0  # fit only where answers have several phrasings on average
MIN_ANSWERS = 2


@dataclass
class Head:
    coef: np.ndarray  # (answers, dim)
    intercept: np.ndarray  # (answers,)

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        z = self.coef @ vector + self.intercept
        z = np.exp(z - z.max())
        return z / z.sum()


@dataclass
class AnswerClassifier:
    revision: int
    keys: list[str]  # answer keys, as bot.answering.candidates.answer_key_of gives them
    heads: dict[str, Head]  # embedder name → its head

    def probabilities(self, vectors: dict[str, np.ndarray]) -> dict[str, float] | None:
        """Probability of each answer, averaged over the heads whose embedder gave a vector."""
        found = [self.heads[n].probabilities(v) for n, v in vectors.items() if n in self.heads]
        if not found:
            return None
        mean = np.mean(found, axis=0)
        return {key: float(p) for key, p in zip(self.keys, mean, strict=True)}

    def save(self, data_dir: Path) -> Path:
        path = data_dir / CLASSIFIER_FILE
        arrays: dict[str, Any] = {}
        for name, head in self.heads.items():
            arrays[f"coef:{name}"] = head.coef
            arrays[f"intercept:{name}"] = head.intercept
        meta = json.dumps({"revision": self.revision, "keys": self.keys}, ensure_ascii=False)
        # a new file renamed over the old: a worker loading it never reads half of one
        part = path.with_name(f".{CLASSIFIER_FILE}.{threading.get_ident()}.part")
        with part.open("wb") as fh:
            arrays["meta"] = np.array(meta)
            np.savez_compressed(fh, **arrays)
        part.replace(path)
        return path

    @classmethod
    def load(cls, data_dir: Path) -> AnswerClassifier | None:
        path = data_dir / CLASSIFIER_FILE
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            names = [k.split(":", 1)[1] for k in data.files if k.startswith("coef:")]
            heads = {n: Head(data[f"coef:{n}"], data[f"intercept:{n}"]) for n in names}
        return cls(int(meta["revision"]), list(meta["keys"]), heads)


def fit_answer_classifier(kb: KnowledgeBase, c: float = 10.0) -> AnswerClassifier | None:
    """Fit on every row that has an answer; None when the knowledge has too few phrasings."""
    from sklearn.linear_model import LogisticRegression

    revision = kb.catalog.revision()
    ids, _ = kb.catalog.all_tokens()
    chunks = kb.catalog.get(ids)
    rows = [
        (cid, key, chunk.language)
        for cid, chunk in chunks.items()
        if (key := answer_key_of(chunk.metadata, cid)).startswith("answer:")
    ]
    answers = sorted({key for _, key, _ in rows})
    if len(answers) < MIN_ANSWERS or len(rows) / len(answers) < MIN_ROWS_PER_ANSWER:
        log.info("answer classifier: %d rows for %d answers, not fitted", len(rows), len(answers))
        return None
    index = {key: i for i, key in enumerate(answers)}
    heads: dict[str, Head] = {}
    for embedder in kb.embedders:
        mine = [(cid, key) for cid, key, lang in rows if serves(embedder, lang or "und")]
        if len({key for _, key in mine}) < MIN_ANSWERS:
            continue
        wanted = [cid + QUESTION_VIEW for cid, _ in mine] + [cid for cid, _ in mine]
        stored = kb.vectors.vectors(embedder.name, wanted)
        x, y = [], []
        for cid, key in mine:
            vector = stored.get(cid + QUESTION_VIEW, stored.get(cid))
            if vector is not None:
                x.append(vector)
                y.append(index[key])
        model = LogisticRegression(C=c, max_iter=300).fit(np.array(x), np.array(y))
        weights, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # one sigmoid = a softmax over (-w/2, +w/2)
            weights = np.vstack([-weights[0] / 2, weights[0] / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2])
        # Answers this embedder never saw (other-language rows) get no probability from it.
        coef = np.zeros((len(answers), len(x[0])))
        intercept = np.full(len(answers), -1e4)
        coef[model.classes_] = weights
        intercept[model.classes_] = bias
        heads[embedder.name] = Head(coef, intercept)
        log.info("answer classifier: %s head, %d rows", embedder.name, len(x))
    if not heads:
        return None
    return AnswerClassifier(revision, answers, heads)


class ClassifierSlot:
    """The classifier stored under a data directory, reloaded when its file changes and used
    only while the knowledge base is at the revision it was fitted on.

    With `refit`, a slot that finds its classifier behind the knowledge's revision (another
    worker ingested) has it fitted again in the background, one fit at a time; turns go on
    without a classifier until it is there, rather than waiting for it."""

    def __init__(
        self,
        data_dir: Path | None,
        fixed: AnswerClassifier | None = None,
        refit: Callable[[], object] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self._loaded: AnswerClassifier | None = fixed
        self._stamp: float | None = None
        self._refit = refit
        self._refitting = threading.Lock()
        self._tried: int | None = None  # the revision a refit was last started for

    def current(self, revision: int) -> AnswerClassifier | None:
        if self.data_dir is not None:
            path = self.data_dir / CLASSIFIER_FILE
            stamp = path.stat().st_mtime if path.is_file() else None
            if stamp != self._stamp:
                self._loaded = AnswerClassifier.load(self.data_dir) if stamp else None
                self._stamp = stamp
        if self._loaded is None or self._loaded.revision != revision:
            self._refit_behind(revision)
            return None
        return self._loaded

    def _refit_behind(self, revision: int) -> None:
        """Start a background refit for `revision`, unless one runs or was tried for it."""
        if self._refit is None or self._tried == revision or not self._refitting.acquire(False):
            return
        self._tried = revision

        def fit() -> None:
            try:
                self._refit()
            except Exception:  # the next revision tries again; turns go on without it
                log.exception("answer classifier: refit failed")
            finally:
                self._refitting.release()

        threading.Thread(target=fit, name="classifier-refit", daemon=True).start()

    def wait_idle(self, timeout: float = 60) -> bool:
        """Wait until no refit runs (for tests and the command line); whether it is idle."""
        if not self._refitting.acquire(timeout=timeout):
            return False
        self._refitting.release()
        return True


def refit_if_stale(kb: KnowledgeBase, data_dir: Path) -> AnswerClassifier | None:
    """Fit the classifier again when the knowledge moved since it was fitted (after an
    ingest), and measure the knowledge's similarity scale again (bot/answering/scale.py);
    None when the knowledge has too few phrasings per answer to fit a classifier."""
    refresh_scale(kb)
    current = AnswerClassifier.load(data_dir)
    if current is not None and current.revision == kb.catalog.revision():
        return current
    fitted = fit_answer_classifier(kb)
    if fitted is None:
        (data_dir / CLASSIFIER_FILE).unlink(missing_ok=True)
        return None
    fitted.save(data_dir)
    return fitted
