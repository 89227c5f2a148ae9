"""Retrieval metrics on hand-made rankings, and a tiny end-to-end run of the harness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import EvalSet, Query
from eval.metrics import (
    evaluate,
    first_gold_rank,
    label_ranking,
    latency,
    percentile_ms,
    score_ranks,
)
from ingest.model import Chunk

LABELS = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C", "d1": "D"}


def test_label_ranking_keeps_each_label_at_its_first_occurrence():
    ids = ["a1", "a2", "b1", "a3", "b2", "c1", "zz", "d1"]
    assert label_ranking(ids, LABELS) == ["A", "B", "C", "D"]  # unknown ids are ignored
    assert label_ranking(ids, LABELS, depth=2) == ["A", "B"]


def test_first_gold_rank_counts_distinct_labels():
    # Three chunks of intent A come first: B is at rank 2 among labels, not at rank 4.
    labels = label_ranking(["a1", "a2", "a3", "b1", "c1"], LABELS)
    assert first_gold_rank(labels, {"B"}) == 2
    assert first_gold_rank(labels, {"C", "B"}) == 2  # any gold label counts
    assert first_gold_rank(labels, {"D"}) is None


def test_recall_and_mrr_on_known_rankings():
    rankings = [
        ["a1", "b1"],  # gold A at 1
        ["a1", "a2", "a3", "b1"],  # gold B at 2 (after collapsing A)
        ["a1", "b1", "c1", "d1"],  # gold D at 4
        ["b1", "c1"],  # gold A missing
    ]
    golds = [{"A"}, {"B"}, {"D"}, {"A"}]
    s = evaluate(rankings, golds, LABELS)
    assert s.n == 4
    assert s.recall_at_1 == pytest.approx(1 / 4)
    assert s.recall_at_5 == pytest.approx(3 / 4)
    assert s.mrr_at_10 == pytest.approx((1 + 1 / 2 + 1 / 4 + 0) / 4)


def test_mrr_is_cut_at_ten():
    assert score_ranks([11]).mrr_at_10 == 0.0
    assert score_ranks([10]).mrr_at_10 == pytest.approx(0.1)
    assert score_ranks([]).n == 0


def test_latency_percentiles_in_milliseconds():
    seconds = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert percentile_ms(seconds, 50) == pytest.approx(50.5)
    assert percentile_ms(seconds, 95) == pytest.approx(95.05)
    assert latency(seconds)["n"] == 100
    assert latency([])["p50_ms"] is None


def test_limit_samples_queries_deterministically():
    qs = [Query(f"q{i}", frozenset({"A"})) for i in range(50)]
    s = EvalSet("x", "en", [], qs)
    one, two = s.limited(10), s.limited(10)
    assert [q.text for q in one.queries] == [q.text for q in two.queries]
    assert len(one.queries) == 10 and one.notes["queries_total"] == 50
    assert s.limited(None) is s


def _synthetic() -> EvalSet:
    items = [
        ("refund", "en", "Refunds are paid back to your card within five working days."),
        ("refund", "en", "You get your money back on the original card after a return."),
        ("shipping", "en", "Delivery takes two days; orders over 990 dollars ship free."),
        ("invoice", "en", "Electronic invoices are emailed after payment."),
        ("退貨", "zh", "到貨後七天內可以在會員中心申請退貨，我們安排到府取件。"),
        ("運費", "zh", "單筆滿 990 元免運費，未滿則收取 60 元運費。"),
        ("發票", "zh", "電子發票會寄到您的信箱，也可以存入手機載具。"),
    ]
    chunks = [
        Chunk.build("synthetic", f"row={i}", text, {"label": label, "language": lang})
        for i, (label, lang, text) in enumerate(items)
    ]
    queries = [
        Query("when are refunds paid back to my card", frozenset({"refund"})),
        Query("delivery takes how many days", frozenset({"shipping"})),
        Query("electronic invoices emailed", frozenset({"invoice"})),
        Query("怎麼申請退貨", frozenset({"退貨"})),
        Query("運費多少錢", frozenset({"運費"})),
        Query("電子發票寄到哪裡", frozenset({"發票"})),
    ]
    return EvalSet("synthetic", "en", chunks, queries)


def test_harness_end_to_end_with_hashing_embedder(tmp_path: Path):
    from eval.retrieval import run
    from knowledge.embedding import HashingEmbedder

    out = tmp_path / "results"
    result = run(
        _synthetic(),
        embedders=[HashingEmbedder()],
        cache_dir=None,
        out_dir=out,
        latency_sample=4,
        keyword_weights=(0.5, 1.0),
        depths=(50,),
    )
    assert result["queries"] == 6 and result["chunks"] == 7 and result["labels"] == 6
    assert result["signals"] == ["dense:hashing", "keyword"]
    # Every query shares words with its answer only: BM25 alone finds them all.
    assert result["variants"]["signal keyword"]["r@1"] == 1.0
    default = result["variants"][result["picks"]["default"]]
    assert default["spec"]["fusion"] == "rrf" and default["spec"]["rrf_k"] == 60
    assert 0.0 <= default["r@1"] <= default["r@5"] <= 1.0
    rows = {r["row"]: r for r in result["rows"]}
    assert {"dense:hashing alone", "keyword alone", "keyword-only"} <= rows.keys()
    assert rows["keyword-only"]["p50_ms"] is not None
    assert result["latency"]["hybrid default"]["n"] == 4
    assert (out / "retrieval-synthetic.json").exists()
    assert json.loads((out / "retrieval-synthetic.json").read_text())["dataset"] == "synthetic"
    assert "| config | R@1" in (out / "retrieval-synthetic.md").read_text()


def test_harness_reuses_a_cached_knowledge_base(tmp_path: Path):
    from eval.report import write_combined
    from eval.retrieval import run
    from knowledge.embedding import HashingEmbedder

    kwargs = {
        "cache_dir": tmp_path / "kb",
        "out_dir": tmp_path / "results",
        "latency_sample": 0,
        "fusions": (("rrf", 60),),
        "keyword_weights": (1.0,),
        "depths": (50,),
    }
    first = run(_synthetic(), embedders=[HashingEmbedder()], **kwargs)
    assert first["build"]["embedded"] == 7
    embedder = HashingEmbedder()
    again = run(_synthetic(), embedders=[embedder], **kwargs)
    assert again["build"]["embedded"] == 0 and embedder.calls == 0
    assert again["variants"] == first["variants"]
    combined = write_combined(tmp_path / "results")
    assert combined is not None and "synthetic" in combined.read_text()


def test_vectorised_grid_ranks_equal_the_real_fusion():
    import random

    from eval.retrieval import exact_ranks, grid_ranks, variant_grid

    rnd = random.Random(3)
    docs = [f"d{i:02d}" for i in range(40)]
    label_of = {d: f"L{i % 13}" for i, d in enumerate(docs)}
    signals = ["dense:a", "dense:b", "keyword"]
    rankings, golds = [], []
    for _ in range(60):
        r = {}
        for s in signals:
            picked = rnd.sample(docs, rnd.randint(0, 30))
            # Coarse scores so that ties (broken by document id) really happen.
            scores = sorted((round(rnd.uniform(-0.2, 1.0), 1) for _ in picked), reverse=True)
            r[s] = list(zip(picked, scores, strict=True))
        if rnd.random() < 0.3:
            del r["dense:b"]  # a query in a language the second embedder does not serve
        rankings.append(r)
        golds.append(frozenset({f"L{rnd.randrange(14)}"}))
    variants = variant_grid(
        ["dense:a", "dense:b"],
        fusions=(("rrf", 60), ("rrf", 5), ("score", 0), ("minmax", 0)),
        keyword_weights=(0.5, 1.0, 2.0),
        dense_weights=(0.0, 1.0, 3.0),
        depths=(10, 100),
    )
    fast = grid_ranks(variants, rankings, golds, label_of)
    for v in variants:
        assert fast[v.name] == exact_ranks(v, rankings, golds, label_of), v.name


def test_minmax_fusion_scales_each_list_to_unit_range():
    from knowledge.fusion import minmax_fusion

    fused = minmax_fusion(
        {"dense": [("a", 0.9), ("b", 0.85), ("c", 0.8)], "keyword": [("c", 12.0), ("a", 2.0)]},
        {"keyword": 0.5},
    )
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1.0)  # dense top (1) + keyword bottom (0)
    assert scores["c"] == pytest.approx(0.5)  # dense bottom (0) + keyword top (0.5)
    assert scores["b"] == pytest.approx(0.5)
    assert fused[0][0] == "a"


def test_bigram_tokenizer_adds_neighbouring_han_pairs():
    from eval.retrieval import TOKENIZERS

    # "refund" would be folded to 退款 by the synonym layer; "passport" is a plain English word.
    tokens = TOKENIZERS["jieba+bigram"]("出入境管理 passport")
    assert {"出入", "入境", "境管", "管理"} <= set(tokens)
    assert "passport" in tokens


def test_question_vectors_count_for_their_chunk():
    from eval.retrieval import chunk_ranking

    ranking = [("a::q", 0.9), ("b", 0.8), ("a", 0.7), ("b::q", 0.6), ("c", 0.5)]
    assert chunk_ranking(ranking) == [("a", 0.9), ("b", 0.8), ("c", 0.5)]
