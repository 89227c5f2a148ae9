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
