"""Fusing ranked lists from several retrievers into one ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Ranking = Sequence[tuple[str, float]]


def reciprocal_rank_fusion(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float], k: int = 60
) -> list[tuple[str, float]]:
    """Σ weight / (k + rank): robust to signals whose scores live on different scales."""
    fused: dict[str, float] = {}
    for signal, ranking in rankings.items():
        w = weights.get(signal, 1.0)
        if w == 0:  # a signal switched off brings no candidates either
            continue
        for rank, (doc, _) in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def score_fusion(
    rankings: Mapping[str, Ranking], weights: Mapping[str, float]
) -> list[tuple[str, float]]:
    """Weighted sum of each signal's score scaled by that signal's best score for this query.

    Dense cosine similarities are already on one scale; BM25 scores are not, so each list is
    divided by its maximum. A document missing from a list contributes 0 for that signal.
    """
    fused: dict[str, float] = {}
    for signal, ranking in rankings.items():
        w = weights.get(signal, 1.0)
        if not ranking or w == 0:  # a signal switched off brings no candidates either
            continue
        top = max(score for _, score in ranking)
        scale = top if top > 0 else 1.0
        for doc, score in ranking:
            fused[doc] = fused.get(doc, 0.0) + w * max(score, 0.0) / scale
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def minmax_fusion(
    rankings: Mapping[str, Ranking],
    weights: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> list[tuple[str, float]]:
    """Weighted sum of scores scaled to [0, 1] within each list (its best 1, its last 0).

    Dividing by the maximum leaves dense cosines bunched near 1 (e5 gives 0.80-0.90 to
    everything), so the dense signal barely separates its candidates; min-max spreads every
    signal over the same range, and the weights mean what they say (measured in eval/).
    A signal named in `ranges` is scaled by that (low, high) instead of its list's own: BM25
    by (0, the most any chunk could score), so that a best match on one common word is not
    worth as much as a match on the whole question.
    """
    fused: dict[str, float] = {}
    for signal, ranking in rankings.items():
        w = weights.get(signal, 1.0)
        if not ranking or w == 0:  # a signal switched off brings no candidates either
            continue
        if ranges is not None and signal in ranges:
            lo, hi = ranges[signal]
        else:
            hi = max(score for _, score in ranking)
            lo = min(score for _, score in ranking)
        span = hi - lo
        for doc, score in ranking:
            term = w * ((score - lo) / span) if span > 0 else w
            fused[doc] = fused.get(doc, 0.0) + term
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
