"""The fusion fitted across data sets: its variants fuse as the retriever does, and leave-one-
data-set-out picks weights without looking at the held-out set."""

from __future__ import annotations

import random
from typing import Any

from eval.report import choose_fit, lodo
from eval.retrieval import (
    ALL_FIT_FUSIONS,
    exact_ranks,
    fit_config,
    fit_grid,
    grid_ranks,
    keyword_by_language,
)
from knowledge.base import KnowledgeBase
from knowledge.retriever import HybridRetriever


def _random_rankings(rnd: random.Random, docs: list[str]) -> dict[str, list[tuple[str, float]]]:
    r: dict[str, list[tuple[str, float]]] = {}
    for s in ("dense:e5", "question:e5", "dense:minilm", "keyword"):
        picked = rnd.sample(docs, rnd.randint(1, 25))
        scores = sorted((round(rnd.uniform(0.0, 9.0), 1) for _ in picked), reverse=True)
        r[s] = list(zip(picked, scores, strict=True))
    return r


def test_fit_variants_rank_exactly_as_the_retriever_configured_from_them(
    hashing_kb: KnowledgeBase,
):
    rnd = random.Random(5)
    docs = [f"d{i:02d}" for i in range(30)]
    label_of = {d: f"L{i % 11}" for i, d in enumerate(docs)}
    variants = fit_grid(["dense:e5", "dense:minilm"], ALL_FIT_FUSIONS)[
        ::37
    ]  # a spread of weight sets, both fusions
    assert {(v.fusion, v.keyword_scale) for v in variants} == {
        ("minmax", "minmax"),
        ("minmax", "ceiling"),
        ("rrf", "minmax"),
    }
    for _ in range(40):
        language = rnd.choice(["zh", "en"])
        raw = _random_rankings(rnd, docs)
        if language == "zh":
            del raw["dense:minilm"]  # MiniLM serves English questions only
        tagged = keyword_by_language(raw, language)
        # The most any chunk could score for the question's words: at least the best score.
        ceiling = {"keyword": (0.0, raw["keyword"][0][1] + rnd.choice([0.0, 2.5, 30.0]))}
        gold = frozenset({f"L{rnd.randrange(11)}"})
        fast = grid_ranks(variants, [tagged], [gold], label_of, [ceiling])
        for v in variants:
            assert fast[v.name] == exact_ranks(v, [tagged], [gold], label_of, [ceiling])
            retriever = HybridRetriever(hashing_kb, fit_config(v.spec()))
            scaled = ceiling if v.keyword_scale == "ceiling" else None
            shipped = [d for d, _ in retriever.fuse(raw, language, scaled)]
            assert shipped[:10] == v.rank(tagged, ceiling)[:10], v.name


def _result(name: str, signal_r5: float, fit: dict[str, tuple[float, float]]) -> dict[str, Any]:
    return {
        "dataset": name,
        "queries": 10,
        "signals": ["dense:e5"],
        "variants": {"signal dense:e5": {"r@1": 0.5, "r@5": signal_r5, "mrr@10": 0.6}},
        "fit": {
            n: {"r@1": r1, "r@5": r5, "mrr@10": r1, "spec": {"weights": {}}}
            for n, (r1, r5) in fit.items()
        },
    }


def test_never_losing_at_recall_5_comes_before_a_better_mean_recall_1():
    sets = [
        _result("a", 0.90, {"sharp": (0.90, 0.85), "safe": (0.70, 0.95)}),
        _result("b", 0.90, {"sharp": (0.90, 0.95), "safe": (0.70, 0.95)}),
    ]
    assert choose_fit(sets) == "safe"
    assert choose_fit(sets[1:]) == "sharp"


def test_each_data_set_is_scored_with_weights_chosen_on_the_others():
    sets = [
        _result("a", 0.80, {"x": (0.9, 0.9), "y": (0.1, 0.9)}),
        _result("b", 0.80, {"x": (0.9, 0.9), "y": (0.2, 0.9)}),
        _result("c", 0.80, {"x": (0.1, 0.7), "y": (0.95, 0.95)}),
    ]
    out = lodo(sets)
    # Held out, c is scored with x (best on a and b) though y would be far better on c.
    assert out["held_out"]["c"]["chosen_on_others"] == "x"
    assert out["held_out"]["c"]["r@5_minus_best_signal"] == -0.1
    assert out["worst"]["r@5_minus_best_signal"] == -0.1
    assert out["held_out"]["a"]["chosen_on_others"] == "y"  # x loses at R@5 on c
