"""The knowledge base's own similarity scale, measured at ingest from the vectors it stores.

How similar a question must be to a row to be *that* row's question depends on the knowledge:
in a shop's FAQ every row of the 退換貨 sheet is close to every other, in a city's FAQ rows
on different offices' subjects are far apart, a passage is close to its neighbours. The scale
is the distribution, over the knowledge's rows, of each row's similarity to the nearest row
that gives a *different* answer: a question that is no closer to its best row than rows are to
their neighbours is likely about a neighbouring subject the knowledge does not answer. The
turn's similarity is then expressed on that scale (`standing`), with no encoder call per turn.
It is stored in the catalog with the revision it was measured on and measured again after
every ingest that changed the knowledge (`refresh_scale`, from `refit_if_stale`).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass

import numpy as np

from bot.answering.candidates import answer_key_of
from knowledge.base import QUESTION_VIEW, KnowledgeBase
from knowledge.embedding import serves

log = logging.getLogger(__name__)
SCALE_KEY = "similarity_scale"  # its key in the catalog's meta table
SAMPLE = 2000  # rows whose nearest other answer is looked up (all of them on small knowledge)
BLOCK = 256
MIN_ROWS = 3


@dataclass(frozen=True)
class SimilarityScale:
    revision: int  # the catalog revision it was measured on
    embedder: str  # whose similarities it describes
    rows: int  # rows measured
    mean: float  # of each row's similarity to its nearest other answer
    std: float

    def standing(self, similarity: float) -> float:
        """How many of the knowledge's own spreads `similarity` stands above the similarity
        of a row to its nearest other answer."""
        return (similarity - self.mean) / max(self.std, 0.01)


def nearest_other(
    probes: np.ndarray, probe_keys: list[str], targets: np.ndarray, target_keys: list[str]
) -> np.ndarray:
    """For each probe vector, its highest similarity to a target with another answer key
    (-1 when every target shares its key). Vectors are unit length, so similarity is a dot."""
    codes = {k: i for i, k in enumerate(sorted(set(probe_keys) | set(target_keys)))}
    tk = np.array([codes[k] for k in target_keys])
    pk = np.array([codes[k] for k in probe_keys])
    out = np.full(len(probes), -1.0)
    for start in range(0, len(probes), BLOCK):
        sims = probes[start : start + BLOCK] @ targets.T
        sims[pk[start : start + BLOCK, None] == tk[None, :]] = -np.inf
        best = sims.max(axis=1) if sims.shape[1] else np.full(len(sims), -np.inf)
        out[start : start + BLOCK] = np.where(np.isfinite(best), best, -1.0)
    return out


def measure_scale(
    kb: KnowledgeBase, language: str | None = None, embedder: str | None = None
) -> SimilarityScale | None:
    """The scale of `embedder` (default: e5, else the first dense model but the English-only
    MiniLM, as the refusal signal "similarity" chooses) over the rows in `language` (every
    row when None); None when too few rows."""
    names = [e.name for e in kb.embedders]
    if embedder is None:
        general = [n for n in names if n != "minilm"]
        embedder = "e5" if "e5" in names else (general[0] if general else None)
    chosen = next((e for e in kb.embedders if e.name == embedder), None)
    if chosen is None:
        return None
    ids, _ = kb.catalog.all_tokens()
    chunks = kb.catalog.get(ids)
    keys = {
        cid: answer_key_of(chunk.metadata, cid)
        for cid, chunk in chunks.items()
        if serves(chosen, chunk.language or "und") and language in (None, chunk.language)
    }
    stored = kb.vectors.vectors(chosen.name, [*keys, *(cid + QUESTION_VIEW for cid in keys)])
    # A row is asked as its question (its question view), a passage as itself.
    rows = [(cid, stored.get(cid + QUESTION_VIEW, stored.get(cid))) for cid in sorted(keys)]
    present = [(cid, v) for cid, v in rows if v is not None]
    if len({keys[cid] for cid, _ in present}) < MIN_ROWS:
        return None
    sample = random.Random(13).sample(present, min(SAMPLE, len(present)))
    target_ids = [vid for vid in stored]
    targets = np.array([stored[vid] for vid in target_ids])
    target_keys = [keys[vid.removesuffix(QUESTION_VIEW)] for vid in target_ids]
    nearest = nearest_other(
        np.array([v for _, v in sample]), [keys[cid] for cid, _ in sample], targets, target_keys
    )
    nearest = nearest[nearest > -1.0]
    if len(nearest) < MIN_ROWS:
        return None
    mean, std = float(nearest.mean()), float(nearest.std())
    return SimilarityScale(kb.catalog.revision(), chosen.name, len(nearest), mean, std)


def stored_scales(kb: KnowledgeBase) -> dict[str, SimilarityScale]:
    """The scale of each language's rows, as the last ingest measured it."""
    text = kb.catalog.meta(SCALE_KEY)
    found = json.loads(text) if text else {}
    if not all(isinstance(value, dict) for value in found.values()):
        return {}  # stored in an older form: measured again at the next ingest
    return {lang: SimilarityScale(**value) for lang, value in found.items()}


def stored_scale(kb: KnowledgeBase, language: str) -> SimilarityScale | None:
    return stored_scales(kb).get(language)


def refresh_scale(kb: KnowledgeBase) -> dict[str, SimilarityScale]:
    """Measure the scale of each language's rows again when the knowledge moved since it was
    measured. Per language: e5 places a question nearer rows in its own language, so rows in
    another language are not the neighbours a question is measured against."""
    current = stored_scales(kb)
    revision = kb.catalog.revision()
    if current and all(s.revision == revision for s in current.values()):
        return current
    ids, _ = kb.catalog.all_tokens()
    languages = sorted({c.language for c in kb.catalog.get(ids).values() if c.language})
    scales = {lang: s for lang in languages if (s := measure_scale(kb, lang)) is not None}
    kb.catalog.set_meta(SCALE_KEY, json.dumps({k: asdict(v) for k, v in scales.items()}))
    for lang, scale in scales.items():
        log.info(
            "similarity scale %s: %d rows, mean %.3f, sd %.3f",
            lang,
            scale.rows,
            scale.mean,
            scale.std,
        )
    return scales
