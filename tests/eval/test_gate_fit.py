"""Fitting the negativity model: every set weighs the same, the thresholds hold on the worst
calm set, and a held-out set is never seen by the model that measures it."""

from __future__ import annotations

import numpy as np
import pytest

from eval.gate import (
    MILD_CALM_RATE,
    STRONG_CALM_RATE,
    Embedded,
    candidate_cues,
    choose_thresholds,
    cue_matrix,
    fit_weights,
    fitted_without,
    scores,
    summarise,
)
from eval.gate_corpora import GateSet, Labelled, language_of

DIM = 384


def synthetic(name: str, calm: int, angry: int, shift: float, seed: int) -> Embedded:
    """Vectors whose first dimension carries the anger (plus noise), as e5's would."""
    rng = np.random.default_rng(seed)
    rows = [Labelled(f"{name} calm {i}", False) for i in range(calm)] + [
        Labelled(f"{name} angry {i}", True) for i in range(angry)
    ]
    vectors = rng.normal(0, 1, (calm + angry, DIM)).astype(np.float32)
    vectors[calm:, 0] += shift
    return Embedded(GateSet(name, "en", rows), vectors)


@pytest.fixture
def sets() -> list[Embedded]:
    return [
        synthetic("bitext", 400, 0, 0.0, 1),
        synthetic("jddc", 400, 0, 0.0, 2),
        synthetic("complaint_tweets", 200, 200, 4.0, 3),
        synthetic("semeval", 300, 300, 4.0, 4),
    ]


def test_thresholds_hold_on_the_worst_calm_set(sets: list[Embedded]) -> None:
    weights = fit_weights(sets)
    assert weights.mild_threshold <= weights.threshold
    for e in sets:
        if e.name in ("bitext", "jddc", "complaint_tweets"):
            calm = scores(weights, e)[~e.negative]
            assert (calm >= weights.threshold).mean() <= STRONG_CALM_RATE
            assert (calm >= weights.mild_threshold).mean() <= MILD_CALM_RATE
    # separable anger is found
    angry = scores(weights, sets[3])[sets[3].negative]
    assert (angry >= weights.mild_threshold).mean() > 0.9


def test_the_lowest_threshold_that_holds_is_chosen(sets: list[Embedded]) -> None:
    weights = fit_weights(sets)
    calm = [scores(weights, e)[~e.negative] for e in sets if e.name in ("bitext", "jddc")]
    strong, mild = choose_thresholds(calm)
    lower = round(strong - 0.01, 2)
    assert max(float((s >= lower).mean()) for s in calm) > STRONG_CALM_RATE or lower < 0.05
    assert mild <= strong


def test_a_set_is_recorded_as_fitted_on_only_when_it_was(sets: list[Embedded]) -> None:
    weights = fit_weights(sets[1:])
    assert "bitext" not in weights.fitted_on["sets"]
    assert set(weights.fitted_on["sets"]) == {"jddc", "complaint_tweets", "semeval"}


def test_each_set_weighs_the_same_whatever_its_size() -> None:
    # One small angry set against one large calm set: without equal weights the model would
    # call almost everything calm.
    small_angry = synthetic("stc3_en", 0, 50, 4.0, 5)
    big_calm = synthetic("clinc150", 2000, 0, 0.0, 6)
    weights = fit_weights([small_angry, big_calm])
    angry = scores(weights, small_angry)
    assert float(np.median(angry)) > 0.5


def test_the_summary_quotes_the_worst_set_next_to_the_mean() -> None:
    rows = [
        {"set": "a", "language": "en", "calm": {"handed_off": 0.01}, "angry": None},
        {"set": "b", "language": "en", "calm": {"handed_off": 0.05}, "angry": None},
        {
            "set": "c",
            "language": "en",
            "calm": None,
            "angry": {"handed_off": 0.6, "handed_off_or_upset": 0.9},
        },
        {
            "set": "d",
            "language": "zh",
            "calm": {"handed_off": 0.0},
            "angry": {"handed_off": 0.8, "handed_off_or_upset": 0.85},
        },
    ]
    found = summarise(rows)
    assert found["en"]["calm_handed_off_mean"] == pytest.approx(0.03)
    assert found["en"]["calm_handed_off_worst"] == ("b", 0.05)
    assert found["en"]["angry_handed_off_worst"] == ("c", 0.6)
    assert found["zh"]["angry_upset_or_handed_off_mean"] == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("text", "language"),
    [("退貨要幾天內申請", "zh"), ("how do I 退貨", "en"), ("點數會expire嗎", "zh")],
)
def test_written_lines_are_split_by_language(text: str, language: str) -> None:
    assert language_of(text) == language


def test_courtesy_never_raises_the_fitted_score() -> None:
    # Angry rows that are all polite: a free fit would learn courtesy as a sign of anger.
    calm = synthetic("bitext", 300, 0, 0.0, 7)
    angry = synthetic("stc3_en", 0, 300, 1.0, 8)
    polite = Embedded(
        GateSet("stc3_en", "en", [Labelled(f"please, angry {i}", True) for i in range(300)]),
        angry.vectors,
    )
    weights = fit_weights([calm, polite])
    assert weights.lexical_coef[weights.lexical.index("courtesy")] <= 0.0


def test_a_set_and_its_translation_are_held_out_together(sets: list[Embedded]) -> None:
    zh = synthetic("stc3_zh", 0, 50, 4.0, 9)
    en = synthetic("stc3_en", 0, 50, 4.0, 10)
    fittable = [*sets, zh, en]
    assert en not in fitted_without(fittable, zh) and zh not in fitted_without(fittable, en)
    assert fitted_without(fittable, sets[0]) == [*sets[1:], zh, en]


def _texts(name: str, angry: list[str], calm: list[str]) -> Embedded:
    rows = [Labelled(t, True) for t in angry] + [Labelled(t, False) for t in calm]
    return Embedded(GateSet(name, "en", rows), np.zeros((len(rows), DIM), dtype=np.float32))


def test_cue_candidates_are_words_of_anger_that_several_sets_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("eval.gate.CUE_SETS", 2)
    a = _texts("a", ["wtf, telco down again", "wtf telco"], ["hello"])
    b = _texts("b", ["wtf is this shop", "wtf"], ["wtf calm?"])
    found = candidate_cues([a, b])
    assert {" wt", "wtf"} <= set(found)
    assert "tel" not in found  # one set's topic (a telecom) is no cue
    matrix = cue_matrix(["WTF", "fine"], found).toarray()
    assert matrix[0].sum() >= 2 and matrix[1].sum() == 0


def test_fitted_cues_score_the_same_in_the_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """With cues switched on, the fit's scores and the shipped model's scores agree."""
    from handoff.sentiment import SentimentModel

    monkeypatch.setattr("eval.gate.CUE_SETS", 2)
    rng = np.random.default_rng(11)

    def with_words(name: str, angry: list[str], calm: list[str]) -> Embedded:
        rows = [Labelled(t, True) for t in angry] + [Labelled(t, False) for t in calm]
        vectors = rng.normal(0, 1, (len(rows), DIM)).astype(np.float32)
        return Embedded(GateSet(name, "en", rows), vectors)

    angry_words = ["wtf again", "still nothing wtf", "fed up, still waiting", "wtf still"]
    train = [
        with_words("complaint_tweets", angry_words * 10, ["can I return it"] * 40),
        with_words("semeval", angry_words[::-1] * 10, ["nice day today"] * 40),
        with_words("bitext", [], ["where is my order"] * 40),
    ]
    weights = fit_weights(train)
    assert weights.cues and weights.fitted_on["cue_sets"] == 2

    class Stub:
        name, dim, languages = "e5", DIM, ("en",)

    model = SentimentModel(Stub(), weights)  # type: ignore[arg-type]
    for e in train:
        product = model.scores_of(e.texts, e.vectors)
        assert np.allclose(product, scores(weights, e), atol=1e-4)


def test_thresholds_are_placed_on_scores_of_a_model_that_never_saw_the_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A calm set that resembles anger elsewhere (chat turns about a problem) is scored low by
    a model fitted on it and high by one that was not; its new messages are like the latter,
    so the thresholds are placed out of fold and hold on a fresh sample of such messages."""
    rng = np.random.default_rng(12)

    def made(name: str, calm: int, angry: int, chat: float, seed: int) -> Embedded:
        e = synthetic(name, calm, angry, 3.0, seed)
        e.vectors[:, 1] += chat * rng.random(len(e.vectors))
        return e

    # Angry sets whose anger also shows on dimension 1; one calm set of chat turns high on it.
    train = [
        made("complaint_tweets", 200, 200, 0.0, 20),
        made("semeval", 300, 300, 0.0, 21),
        made("clinc150", 400, 0, 0.0, 22),
        made("jddc", 400, 0, 3.0, 23),
    ]
    for e in train[:2]:
        e.vectors[e.negative, 1] += 3.0
    fresh = made("jddc", 2000, 0, 3.0, 24)

    monkeypatch.setattr("eval.gate.THRESHOLDS_OUT_OF_FOLD", False)
    in_sample = fit_weights(train)
    monkeypatch.setattr("eval.gate.THRESHOLDS_OUT_OF_FOLD", True)
    out_of_fold = fit_weights(train)
    assert out_of_fold.fitted_on["thresholds_out_of_fold"] is True
    assert out_of_fold.threshold > in_sample.threshold
    new = scores(out_of_fold, fresh)
    assert (new >= out_of_fold.threshold).mean() <= 2 * STRONG_CALM_RATE
    assert (scores(in_sample, fresh) >= in_sample.threshold).mean() > 2 * STRONG_CALM_RATE
