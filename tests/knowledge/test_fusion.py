import pytest

from knowledge.fusion import reciprocal_rank_fusion, score_fusion


def test_rrf_rewards_agreement_between_signals():
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    keyword = [("b", 12.0), ("c", 3.0)]
    fused = reciprocal_rank_fusion({"dense": dense, "keyword": keyword}, {}, k=60)
    assert [d for d, _ in fused] == ["b", "c", "a"]
    assert abs(fused[0][1] - (1 / 62 + 1 / 61)) < 1e-12


def test_rrf_weights_shift_the_order():
    dense = [("a", 0.9), ("b", 0.8)]
    keyword = [("b", 5.0), ("a", 1.0)]
    fused = reciprocal_rank_fusion({"dense": dense, "keyword": keyword}, {"keyword": 2.0})
    assert fused[0][0] == "b"


def test_score_fusion_scales_each_signal_by_its_best_score():
    dense = [("a", 0.5), ("b", 0.25)]
    keyword = [("b", 20.0), ("a", 10.0)]
    fused = dict(score_fusion({"dense": dense, "keyword": keyword}, {}))
    assert fused["a"] == 1.0 + 0.5
    assert fused["b"] == 0.5 + 1.0


def test_empty_rankings_fuse_to_nothing():
    assert reciprocal_rank_fusion({"dense": [], "keyword": []}, {}) == []
    assert score_fusion({"dense": []}, {}) == []


def test_a_fixed_range_keeps_a_weak_keyword_match_weak():
    from knowledge.fusion import minmax_fusion

    dense = [("a", 0.90), ("b", 0.80)]
    keyword = [("b", 1.0), ("a", 0.5)]  # b's best match covers a tenth of what was asked
    own = dict(minmax_fusion({"dense": dense, "keyword": keyword}, {}))
    fixed = dict(minmax_fusion({"dense": dense, "keyword": keyword}, {}, {"keyword": (0.0, 10.0)}))
    assert own["b"] == 1.0 and own["a"] == 1.0  # scaled by its own list, b's match counts fully
    assert fixed["b"] == 0.1 and fixed["a"] == 1.05
    assert max(fixed, key=fixed.__getitem__) == "a"


def test_a_signal_weighted_zero_brings_no_candidates():
    from knowledge.fusion import minmax_fusion

    fused = minmax_fusion({"dense": [("a", 0.9)], "question": [("q", 0.99)]}, {"question": 0.0})
    assert [d for d, _ in fused] == ["a"]
    assert [d for d, _ in reciprocal_rank_fusion({"x": [("q", 1.0)]}, {"x": 0.0})] == []


def test_the_keyword_ceiling_is_the_best_any_chunk_could_score():
    from knowledge.keyword_index import KeywordIndex

    index = KeywordIndex()
    tokens = [["點數", "到期", "運費", "運費"], ["點數", "折抵"], ["運費"]]
    index.build(["x", "y", "z"], tokens, 1)
    ceiling = index.ceiling(["點數", "折抵"])
    best = index.search(["點數", "折抵"], 3)
    assert best[0][0] == "y" and best[0][1] == pytest.approx(ceiling)  # y matches all of it
    assert index.ceiling(["點數", "到期", "折抵"]) > ceiling
    assert index.ceiling(["沒有"]) == 0.0
    assert all(score < index.ceiling(["點數", "到期", "折抵"]) for _, score in best)
