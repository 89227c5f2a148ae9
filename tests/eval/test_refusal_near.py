"""The near-domain refusal evaluation: items taken out of the knowledge become questions to
refuse, and one model fitted across data sets sets both the refusal point and the band."""

from __future__ import annotations

import random

from eval.refusal import ANSWERABLE, FAR, NEAR, Probe, _split, fit_general
from ingest.model import Chunk


def chunk(label: str, i: int) -> Chunk:
    return Chunk.build("faq", f"row={i}", f"item {label} {i}", {"label": label, "language": "en"})


def test_items_taken_out_turn_their_questions_near_domain():
    chunks = [chunk(f"L{n}", i) for n in range(20) for i in range(2)]
    questions = [Probe(f"q{n}", frozenset({f"L{n}"})) for n in range(20)]
    questions.append(Probe("asked of two items", frozenset({"L0", "L1"})))
    made = _split("toy", "en", chunks, questions, ["weather?"], {})

    gone = {f"L{n}" for n in range(20)} - {str(c.metadata["label"]) for c in made.chunks}
    assert len(gone) == 5  # a quarter of the labels, with all their chunks
    assert len(made.chunks) == 30
    near = {p.text for p in made.probes[NEAR]}
    assert near == {f"q{n[1:]}" for n in gone} | (
        {"asked of two items"} if {"L0", "L1"} <= gone else set()
    )
    for probe in made.probes[ANSWERABLE]:
        assert probe.gold and not probe.gold & gone  # answerable from what is kept only
    assert [p.text for p in made.probes[FAR]] == ["weather?"]
    again = _split("toy", "en", chunks, questions, ["weather?"], {})
    assert {p.text for p in again.probes[NEAR]} == near  # seeded


def rows(seed: int, shift: float) -> list[dict]:
    """Answerable questions whose right answer scores high, near and far ones low."""
    rng = random.Random(seed)
    made = []
    for kind, centre, correct in ((ANSWERABLE, 0.8, True), (NEAR, 0.4, False), (FAR, 0.1, False)):
        for _ in range(200):
            value = rng.gauss(centre + shift, 0.12)
            signals = {"standing": value, "similarity_lead": value}
            made.append({"signals": signals, "kind": kind, "correct": correct})
    return made


def test_one_model_fitted_across_sets_refuses_near_and_answers_the_rest():
    fitted = fit_general({"a": rows(1, 0.0), "b": rows(2, 0.05)}, "a+b")
    assert fitted.fitted_on == "a+b"
    assert 0 < fitted.threshold <= (fitted.confident or 0) < 1
    held_out = rows(3, 0.02)
    p = {id(r): fitted.probability(r["signals"]) for r in held_out}
    refused_near = [p[id(r)] < fitted.threshold for r in held_out if r["kind"] == NEAR]
    answered = [p[id(r)] >= fitted.threshold for r in held_out if r["kind"] == ANSWERABLE]
    assert sum(refused_near) / len(refused_near) > 0.9
    assert sum(answered) / len(answered) > 0.9


def test_a_signal_a_turn_lacks_is_read_as_its_mean_when_fitting():
    from eval.refusal import signal_matrix

    made = [
        {"signals": {"content_coverage": 0.2, "margin": 0.1}},
        {"signals": {"content_coverage": 0.6, "margin": 0.3}},
        {"signals": {"margin": 0.2}},  # across languages: no coverage
    ]
    x = signal_matrix(made, ["content_coverage", "margin"])
    assert x.tolist() == [[0.2, 0.1], [0.6, 0.3], [0.4, 0.2]]


def test_signal_sets_are_compared_with_each_set_left_out(monkeypatch):
    from types import SimpleNamespace

    import eval.refusal as refusal

    def with_coverage(seed: int, shift: float) -> list[dict]:
        made = rows(seed, shift)
        for r in made:  # a coverage that separates as well, a rank agreement that does not
            r["signals"]["content_coverage"] = r["signals"]["standing"]
            r["signals"]["rank_agreement"] = 0.5
        return made

    monkeypatch.setattr(
        refusal,
        "FEATURE_SETS",
        {"good": ("content_coverage",), "useless": ("rank_agreement",)},
    )
    prepared = [
        SimpleNamespace(name=name, rows=with_coverage(seed, shift))
        for name, seed, shift in (("a", 1, 0.0), ("b", 2, 0.05), ("c", 3, -0.05))
    ]
    compared = {c["features"]: c["held_out"] for c in refusal.compare_features(prepared)}
    assert set(compared["good"]) == {"a", "b", "c"}
    assert all(min(v["answered_right"], v["near_refused"]) > 0.7 for v in compared["good"].values())
    useless = compared["useless"]
    assert all(min(v["answered_right"], v["near_refused"]) < 0.6 for v in useless.values())
    table = refusal.features_markdown(list(refusal.compare_features(prepared)), "cmd")
    assert "| good |" in table and "| useless |" in table


def test_the_offer_band_keeps_far_questions_that_share_words_to_the_allowed_share():
    """Far questions whose best item shares none of their words are never offered anything;
    of those that share some, the band's lower end lets at most OFFER_FAR through."""
    from bot.answering.refusal import shares_words
    from eval.refusal import OFFER_FAR, place_offer

    def far(p: float, coverage: float) -> dict:
        return {"kind": FAR, "correct": False, "signals": {"content_coverage": coverage}, "p": p}

    # 100 far questions: 90 share no words (probabilities up to .55), 10 share some (.30-.39)
    mine = [far(0.1 + 0.005 * i, 0.0) for i in range(90)] + [
        far(0.30 + 0.01 * i, 0.4) for i in range(10)
    ]
    sets = {"toy": mine}
    probs = {"toy": [r["p"] for r in mine]}
    low = place_offer(sets, probs, threshold=0.6)
    assert low is not None
    offered = [r for r in mine if low <= r["p"] < 0.6 and shares_words(r["signals"])]
    assert len(offered) <= OFFER_FAR * len(mine)
    assert len(offered) == int(OFFER_FAR * len(mine))  # as low as the share allows
    assert low < 0.55  # the questions sharing no words did not hold the band up
