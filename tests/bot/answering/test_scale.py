"""The knowledge base's own similarity scale: measured from its stored vectors at ingest,
stored in the catalog, measured again when the knowledge changes, and the turn's similarity
expressed on it (the refusal signal "standing")."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.answerer import Answerer
from bot.answering.candidates import group
from bot.answering.classifier import refit_if_stale
from bot.answering.refusal import RefusalModel, signals
from bot.answering.scale import (
    SCALE_KEY,
    SimilarityScale,
    measure_scale,
    nearest_other,
    refresh_scale,
    stored_scale,
    stored_scales,
)
from ingest.model import Chunk
from knowledge.base import QUESTION_VIEW, KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.retriever import Hit, HybridRetriever

ROWS = [
    ("退貨要怎麼申請", "到我的訂單申請退貨"),
    ("退貨怎麼辦理", "到我的訂單申請退貨"),  # the same answer asked another way
    ("退款多久會到帳", "五個工作天內退款"),
    ("運費怎麼算", "滿990免運"),
    ("可以寄到金門嗎", "可以，運費220"),
]


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=float)
    return v / np.linalg.norm(v)


def test_nearest_other_skips_targets_with_the_same_answer():
    a, a2, b, c = unit(1, 0, 0), unit(1, 0.1, 0), unit(1, 1, 0), unit(0, 0, 1)
    found = nearest_other(
        np.array([a, c]), ["x", "z"], np.array([a, a2, b, c]), ["x", "x", "y", "z"]
    )
    # a's twin a2 gives the same answer: its nearest other answer is b; c is alone on its axis
    assert found[0] == pytest.approx(float(a @ b))
    assert found[1] == pytest.approx(max(float(c @ t) for t in (a, a2, b)))
    assert nearest_other(np.array([a]), ["x"], np.array([a2]), ["x"])[0] == -1.0


def ingest_rows(kb: KnowledgeBase, rows: list[tuple[str, str]]) -> None:
    chunks = [
        Chunk.build(
            "faq.xlsx",
            f"sheet=FAQ;row={i}",
            f"問題: {q}\n答案: {a}",
            {"question": q, "answer": a, "language": "zh"},
        )
        for i, (q, a) in enumerate(rows, start=2)
    ]
    kb.sync_source("faq.xlsx", chunks)


def test_the_scale_is_each_rows_similarity_to_its_nearest_other_answer(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    ingest_rows(kb, ROWS)
    scale = measure_scale(kb)
    assert scale is not None
    assert (scale.embedder, scale.rows, scale.revision) == ("e5", 5, kb.catalog.revision())

    # By hand: every row asked as its question against every other answer's two vectors.
    ids, _ = kb.catalog.all_tokens()
    chunks = kb.catalog.get(ids)
    vectors = kb.vectors.vectors("e5", [*ids, *(i + QUESTION_VIEW for i in ids)])
    expected = []
    for cid, chunk in chunks.items():
        mine = vectors[cid + QUESTION_VIEW]
        others = [
            float(mine @ v)
            for vid, v in vectors.items()
            if chunks[vid.removesuffix(QUESTION_VIEW)].metadata["answer"]
            != chunk.metadata["answer"]
        ]
        expected.append(max(others))
    assert scale.mean == pytest.approx(float(np.mean(expected)))
    assert scale.std == pytest.approx(float(np.std(expected)))


def test_too_little_knowledge_has_no_scale(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    ingest_rows(kb, ROWS[:2])  # one answer
    assert measure_scale(kb) is None
    ingest_rows(kb, ROWS)
    assert measure_scale(kb, embedder="minilm") is None  # no such model
    assert measure_scale(kb, "en") is None  # no English rows


def test_the_scale_is_stored_and_measured_again_when_the_knowledge_changes(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    ingest_rows(kb, ROWS[:4])
    refit_if_stale(kb, tmp_path)  # as `kefu ingest` does
    first = stored_scale(kb, "zh")
    assert first is not None and first.rows == 4 and stored_scale(kb, "en") is None
    assert first == measure_scale(kb, "zh")
    assert refresh_scale(kb) == {"zh": first}  # nothing changed: not measured again

    ingest_rows(kb, ROWS)
    assert stored_scale(kb, "zh") == first  # stale until the next ingest step
    second = refresh_scale(kb)["zh"]
    assert second.rows == 5
    assert second.revision == kb.catalog.revision() > first.revision
    assert stored_scale(kb, "zh") == second


def meta(question: str, answer: str) -> dict[str, str]:
    return {"question": question, "answer": answer}


def test_each_language_is_measured_against_its_own_rows(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    english = [
        ("How do I return an item?", "From My Orders."),
        ("When is my refund paid?", "Within five working days."),
        ("How much is shipping?", "Free from NT$990."),
    ]
    ingest_rows(kb, ROWS)
    kb.sync_source(
        "en.xlsx",
        [
            Chunk.build(
                "en.xlsx",
                f"row={i}",
                f"Q: {q}\nA: {a}",
                {"question": q, "answer": a, "language": "en"},
            )
            for i, (q, a) in enumerate(english, start=2)
        ],
    )
    scales = refresh_scale(kb)
    assert set(scales) == {"en", "zh"}
    assert (scales["en"].rows, scales["zh"].rows) == (3, 5)
    assert scales["zh"] == measure_scale(kb, "zh")  # the English rows are not its neighbours


def test_standing_is_the_similarity_in_the_knowledges_own_spreads():
    scale = SimilarityScale(revision=1, embedder="e5", rows=10, mean=0.9, std=0.02)
    assert scale.standing(0.94) == pytest.approx(2.0)
    assert scale.standing(0.86) == pytest.approx(-2.0)
    assert SimilarityScale(1, "e5", 3, 0.9, 0.0).standing(0.91) == pytest.approx(1.0)  # floor .01


def hit(item_id: str, answer: str, e5: float) -> Hit:
    meta = {"question": f"q {item_id}", "answer": answer}
    return Hit(item_id, answer, "faq.xlsx", f"row={item_id}", meta, e5, {"dense:e5": e5}, {})


def test_the_turn_carries_its_standing_only_with_a_scale_of_its_similarity_model():
    candidates = group([hit("a", "A", 0.95), hit("b", "B", 0.90), hit("c", "C", 0.80)])
    scale = SimilarityScale(1, "e5", 10, 0.9, 0.02)
    assert signals("q", candidates, scale=scale)["standing"] == pytest.approx(2.5)
    assert "standing" not in signals("q", candidates)
    assert "standing" not in signals("q", candidates, scale=SimilarityScale(1, "custom", 10, 0, 1))


def test_the_answerer_uses_the_scale_only_within_one_language(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    ingest_rows(kb, ROWS)
    answerer = Answerer(HybridRetriever(kb), RefusalModel.load(None))
    before = answerer.answer("退貨要怎麼申請", "zh")
    assert "standing" not in before.details["signals"]  # not measured yet
    scale = refresh_scale(kb)["zh"]
    same = answerer.answer("退貨要怎麼申請", "zh")
    assert same.details["signals"]["standing"] == pytest.approx(
        scale.standing(same.details["signals"]["similarity"]), abs=1e-3
    )
    # The same words taken for English: the best item is Chinese, so no standing.
    other = answerer.answer("退貨要怎麼申請", "en")
    assert "standing" not in other.details["signals"]


def test_a_scale_stored_in_an_older_form_is_measured_again(tmp_path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    ingest_rows(kb, ROWS)
    kb.catalog.set_meta(SCALE_KEY, '{"revision": 1, "embedder": "e5", "rows": 5}')
    assert stored_scales(kb) == {}
    assert set(refresh_scale(kb)) == {"zh"}
