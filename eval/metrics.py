"""Ranking metrics over labels: Recall@k, MRR@k, and latency percentiles.

A knowledge base may hold many chunks per answer (CLINC150 has a hundred utterances per intent,
a long FAQ answer is split into several chunks), so a ranking of chunk ids is first turned into
a ranking of distinct labels: each label counts at its first occurrence only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LABEL_DEPTH = 10  # distinct labels looked at: enough for Recall@5 and MRR@10


def label_ranking(
    ids: Iterable[str], label_of: Mapping[str, str], depth: int = LABEL_DEPTH
) -> list[str]:
    """The distinct labels of a ranked id list, in order of first appearance (at most `depth`).

    Ids without a label (not part of the evaluation set) are ignored.
    """
    seen: list[str] = []
    for doc in ids:
        label = label_of.get(doc)
        if label is None or label in seen:
            continue
        seen.append(label)
        if len(seen) >= depth:
            break
    return seen


def first_gold_rank(labels: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based position of the first gold label among distinct labels, None if absent."""
    wanted = set(gold)
    for rank, label in enumerate(labels, start=1):
        if label in wanted:
            return rank
    return None


@dataclass(frozen=True)
class Scores:
    n: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_10: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "r@1": round(self.recall_at_1, 4),
            "r@5": round(self.recall_at_5, 4),
            "mrr@10": round(self.mrr_at_10, 4),
        }


def score_ranks(ranks: Sequence[int | None]) -> Scores:
    """Recall@1, Recall@5 and MRR@10 from each query's first-gold rank (None = not found)."""
    n = len(ranks)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    r1 = sum(1 for r in ranks if r is not None and r <= 1) / n
    r5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    return Scores(n, r1, r5, mrr)


def evaluate(
    rankings: Sequence[Sequence[str]],
    golds: Sequence[Iterable[str]],
    label_of: Mapping[str, str],
) -> Scores:
    """Scores of ranked chunk-id lists against each query's gold labels."""
    ranks = [
        first_gold_rank(label_ranking(ids, label_of), gold)
        for ids, gold in zip(rankings, golds, strict=True)
    ]
    return score_ranks(ranks)


def percentile_ms(seconds: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) of durations in seconds, in milliseconds."""
    if not seconds:
        return None
    return float(np.percentile(np.asarray(seconds, dtype=np.float64), q) * 1000.0)


def latency(seconds: Sequence[float]) -> dict[str, float | int | None]:
    p50, p95 = percentile_ms(seconds, 50), percentile_ms(seconds, 95)
    return {
        "n": len(seconds),
        "p50_ms": None if p50 is None else round(p50, 2),
        "p95_ms": None if p95 is None else round(p95, 2),
    }
