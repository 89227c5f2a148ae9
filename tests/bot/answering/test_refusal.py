"""Refusing from calibrated signals: the signals, the per-language model, its file, and the
reasons a refused turn carries."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import openpyxl
import pytest

from bot.answering.answerer import Answerer
from bot.answering.candidates import group
from bot.answering.refusal import (
    MODEL_FILE,
    SIGNAL_REASONS,
    LanguageModel,
    RefusalModel,
    Verdict,
    signals,
)
from bot.answering.texts import say
from bot.conversation.events import Decision
from knowledge.base import KnowledgeBase
from knowledge.catalog import Catalog
from knowledge.embedding import HashingEmbedder
from knowledge.ingestion import ingest_paths
from knowledge.retriever import Hit, HybridRetriever
from knowledge.text import tokenize


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def model(
    features: dict[str, tuple[float, float, float]], threshold: float = 0.5, intercept: float = 0.0
) -> LanguageModel:
    """features: name → (mean, scale, coef)."""
    return LanguageModel(
        features=list(features),
        mean=[m for m, _, _ in features.values()],
        scale=[s for _, s, _ in features.values()],
        coef=[c for _, _, c in features.values()],
        intercept=intercept,
        threshold=threshold,
    )


# ---- the signals --------------------------------------------------------------------------


def scored(item_id: str, score: float, answer: str, question: str, **scores: float) -> Hit:
    """A FAQ row's hit; dense_e5=0.9 is the score of signal dense:e5."""
    named = {k.replace("_", ":"): v for k, v in scores.items()}
    text = f"Question: {question}\nAnswer: {answer}"
    meta = {"question": question, "answer": answer}
    return Hit(item_id, text, "faq.xlsx", "sheet=FAQ;row=2", meta, score, named, {})


def test_signals_of_the_best_candidate():
    question = "how long does delivery take to Kinmen"
    hits = [
        scored("a", 3.0, "Two days.", "How long does delivery take?", dense_e5=0.90, keyword=8.0),
        scored("b", 2.0, "Three days.", "When will my parcel arrive?", dense_e5=0.85, keyword=9.0),
        scored("c", 1.5, "Two days.", "Delivery time?", dense_e5=0.93, keyword=2.0),
        scored("d", 1.0, "NT$60.", "How much is shipping?", dense_e5=0.40),
    ]
    candidates = group(hits)
    assert [c.best.id for c in candidates] == ["a", "b", "d"]
    asked = set(tokenize(question))
    assert len(asked) == 4  # long, deliveri, take, kinmen

    values = signals(question, candidates)
    rivals = [0.85, 0.40]  # the other answers' best e5 similarities
    spread = math.sqrt(sum((r - 0.625) ** 2 for r in rivals) / 2)
    # long, deliveri, take: in the best answer only (df 1 of 3); kinmen: in none (df 0)
    common, rare = math.log(4 / 1.5), math.log(4 / 0.5)
    assert values == {
        "similarity": pytest.approx(0.93),  # the best of the candidate's rows, not only the first
        "margin": pytest.approx(0.93 - 0.85),
        "similarity_lead": pytest.approx((0.93 - 0.625) / spread),
        "keyword_coverage": pytest.approx(3 / 4),  # kinmen is nowhere in the answer
        "specific_coverage": pytest.approx(3 * common / (3 * common + rare)),
        "keyword_score": pytest.approx(math.log1p(8.0 / 4)),
        "agreement": pytest.approx(2 / 4),
        "rank_agreement": 0.0,  # these hits carry no ranks
        # the question's own words without the asking ones ("long"): deliveri, take, kinmen
        "content_coverage": pytest.approx(2 * common / (2 * common + rare)),
        "cross_language": 0.0,
        "reach_agreement": 0.0,
        "rank_support": 0.0,
        # the best answer's group (a and c) against b's: 3.0 + 0.1 x 1.5 = 3.15 vs 2.0
        "fused_lead": pytest.approx((3.15 - 2.0) / 3.15),
    }


def test_specific_coverage_discounts_the_subject_words_every_candidate_shares():
    """Near the domain: a question whose shared words are the knowledge's subject ("card") and
    whose own word ("stolen") no answer has is covered less than plain coverage says."""
    hits = [
        scored("a", 3.0, "Online.", "How do I activate my card?", dense_e5=0.9),
        scored("b", 2.0, "In the app.", "How do I block my card?", dense_e5=0.8),
        scored("c", 1.0, "At a branch.", "How do I replace my card?", dense_e5=0.7),
    ]
    near = signals("my card was stolen", group(hits))
    answerable = signals("activate card", group(hits))
    assert near["keyword_coverage"] == pytest.approx(1 / 2)  # card, stolen
    assert near["specific_coverage"] < 0.2  # card is in every answer, stolen in none
    assert answerable["specific_coverage"] == pytest.approx(1.0)
    assert answerable["specific_coverage"] > near["specific_coverage"]


def test_rank_agreement_counts_the_signals_that_rank_the_best_answer_first():
    def ranked(item_id: str, score: float, answer: str, **ranks: int) -> Hit:
        named = {k.replace("_", ":"): v for k, v in ranks.items()}
        meta = {"question": item_id, "answer": answer}
        return Hit(item_id, answer, "faq.xlsx", "row=2", meta, score, {}, named)

    hits = [
        ranked("a", 3.0, "A.", dense_e5=1, keyword=2),
        ranked("a2", 2.5, "A.", dense_minilm=1),  # the same answer, another row
        ranked("b", 2.0, "B.", dense_e5=2, keyword=1, dense_minilm=2),
    ]
    assert signals("a", group(hits))["rank_agreement"] == pytest.approx(2 / 3)


def test_rank_support_counts_how_high_each_signal_ranks_the_best_answer():
    """Unlike rank agreement, an answer BM25 ranks first and e5 fourth keeps some of e5's
    support (吹風機壞了保固多久: the warranty row); a signal that never found it gives none."""

    def ranked(item_id: str, score: float, answer: str, **ranks: int) -> Hit:
        named = {k.replace("_", ":"): v for k, v in ranks.items()}
        meta = {"question": item_id, "answer": answer}
        return Hit(item_id, answer, "faq.xlsx", "row=2", meta, score, {}, named)

    hits = [
        ranked("a", 3.0, "A.", dense_e5=4, keyword=1),
        ranked("a2", 2.5, "A.", question_e5=2),  # the same answer, another row
        ranked("b", 2.0, "B.", dense_e5=1, keyword=3, question_e5=1, dense_minilm=1),
    ]
    values = signals("a", group(hits))
    assert values["rank_agreement"] == pytest.approx(1 / 4)
    # e5 1/4, its question view 1/2, BM25 1/1, MiniLM never found it: 0
    assert values["rank_support"] == pytest.approx((1 / 4 + 1 / 2 + 1 + 0) / 4)


def test_fused_lead_is_the_share_of_the_best_score_the_next_answer_lacks():
    hits = [
        scored("a", 2.0, "A.", "How much is shipping?", dense_e5=0.9),
        scored("b", 1.5, "B.", "Do you ship abroad?", dense_e5=0.8),
    ]
    assert signals("shipping", group(hits))["fused_lead"] == pytest.approx(0.25)
    alone = signals("shipping", group(hits[:1]))
    assert alone["fused_lead"] == pytest.approx(1.0)  # no other answer was found


def test_content_coverage_counts_the_words_of_a_plain_question_not_its_asking_words():
    """請問退貨流程是什麼 is 退貨 and 流程: neither the pairs that straddle two words (貨流, 程是,
    是什) nor 什麼 can be in any answer, and they no longer pull its coverage down."""
    hits = [
        scored(
            "a",
            3.0,
            "到貨七天內在會員中心申請，退貨流程依畫面指示。",
            "退貨要怎麼申請？",
            dense_e5=0.9,
        ),
        scored("b", 2.0, "滿 990 元免運。", "運費多少？", dense_e5=0.8),
        scored("c", 1.0, "付款後 3 天內出貨。", "什麼時候出貨？", dense_e5=0.7),
    ]
    values = signals("退貨流程是什麼", group(hits), language="zh")
    assert values["content_coverage"] == pytest.approx(1.0)
    assert values["specific_coverage"] < 0.7
    near = signals("退貨可以用禮品包裝寄回嗎", group(hits), language="zh")
    assert near["content_coverage"] < 0.5  # 禮品, 包裝, 寄回: in no answer


def test_coverage_is_left_out_when_the_best_answer_is_in_the_other_language():
    """An English question answered from a Chinese-only row shares none of its words by nature:
    its coverage is not evidence, so the model reads it as average (missing)."""

    def row(item_id: str, answer: str, question: str, language: str, **ranks: int) -> Hit:
        meta = {"question": question, "answer": answer, "language": language}
        named = {k.replace("_", ":"): v for k, v in ranks.items()}
        return Hit(item_id, f"{question} {answer}", "faq.xlsx", "row=2", meta, 1.0, {}, named)

    hits = [
        row("zh", "點數 12 個月後到期。", "點數會過期嗎？", "zh", dense_e5=1, question_e5=1),
        row(
            "en",
            "Two business days.",
            "How long does delivery take?",
            "en",
            dense_minilm=1,
            dense_e5=2,
            keyword=1,
        ),
    ]
    values = signals("do points expire", group(hits), language="en")
    assert values["cross_language"] == 1.0
    assert "content_coverage" not in values
    # MiniLM and BM25 never reach the Chinese row, e5 ranks it first by nature: no agreement
    assert "rank_agreement" not in values
    assert "reach_agreement" not in values  # only e5 sees the Chinese row: "first" says nothing
    assert "rank_support" not in values
    same = signals("do points expire", group(hits), language="zh")
    assert same["cross_language"] == 0.0 and "content_coverage" in same


def test_coverage_counts_across_the_languages_when_the_question_s_words_reach_the_answer():
    """Folded to one form (cancel = 取消), an English question's words do reach a Chinese row:
    then the keyword search found it, and its coverage and the agreement of the rankings that
    can read Chinese are evidence as they are in one language."""

    def row(item_id: str, answer: str, question: str, language: str, **ranks: int) -> Hit:
        meta = {"question": question, "answer": answer, "language": language}
        named = {k.replace("_", ":"): v for k, v in ranks.items()}
        text = f"問題: {question}\n答案: {answer}"
        return Hit(item_id, text, "faq.xlsx", "row=2", meta, 1.0, {}, named)

    hits = [
        row("cancel", "出貨前可以在訂單頁取消。", "如何取消訂單？", "zh", dense_e5=1, keyword=1),
        row("track", "訂單頁可以查詢狀態。", "怎麼查詢訂單狀態？", "zh", dense_e5=2, keyword=2),
        row("refund", "Within 7 days.", "How do I request a refund?", "en", dense_minilm=1),
    ]
    values = signals("How do I cancel my order?", group(hits), language="en")
    assert values["cross_language"] == 1.0
    assert values["content_coverage"] == pytest.approx(1.0)  # 取消 and 訂單, both in the row
    assert values["rank_agreement"] == pytest.approx(1.0)  # e5 and BM25, the two that read zh
    tracking = signals("How do I cancel my order?", group(hits[1:2] + hits[:1]), language="en")
    assert tracking["content_coverage"] < 1.0  # 訂單 but not 取消
    unreached = [dataclasses.replace(h, ranks={"dense:e5": h.ranks["dense:e5"]}) for h in hits[:2]]
    alone = signals("How do I cancel my order?", group(unreached), language="en")
    assert "content_coverage" not in alone and "rank_agreement" not in alone


def test_english_signals_come_from_minilm_when_it_scored():
    hits = [
        scored("a", 2.0, "A.", "How much is shipping?", dense_e5=0.9, dense_minilm=0.8),
        scored("b", 1.0, "B.", "Do you ship abroad?", dense_e5=0.7, dense_minilm=0.5),
    ]
    values = signals("how much is shipping", group(hits))
    assert values["similarity_en"] == pytest.approx(0.8)
    assert values["margin_en"] == pytest.approx(0.3)
    assert values["margin"] == pytest.approx(0.2)


def test_no_candidates_no_signals():
    assert signals("退貨要怎麼申請？", []) == {}


# ---- the model ----------------------------------------------------------------------------


def test_probability_is_the_logistic_of_standardised_signals():
    m = model({"similarity": (0.85, 0.05, 2.0), "agreement": (0.1, 0.1, 0.5)}, intercept=0.3)
    values = {"similarity": 0.80, "agreement": 0.3}
    expected = sigmoid(0.3 + 2.0 * (0.80 - 0.85) / 0.05 + 0.5 * (0.3 - 0.1) / 0.1)
    assert m.probability(values) == pytest.approx(expected)
    assert m.weakest(values) == "similarity"


def test_judge_answers_at_the_threshold_and_refuses_below_it():
    refusal = RefusalModel({"zh": model({"similarity": (0.85, 0.05, 2.0)}, threshold=0.5)})
    at = refusal.judge("zh", {"similarity": 0.85})
    assert at == Verdict(True, 0.5, "confident", {"similarity": 0.85})
    below = refusal.judge("zh", {"similarity": 0.84})
    assert not below.answerable and below.reason == "low_similarity"
    assert below.probability == pytest.approx(sigmoid(2.0 * -0.01 / 0.05))


def test_between_the_threshold_and_the_confident_point_the_verdict_is_unsure():
    m = model({"similarity": (0.85, 0.05, 2.0)}, threshold=0.3)
    m.confident = 0.7
    refusal = RefusalModel({"zh": m})
    sure = refusal.judge("zh", {"similarity": 0.90})  # p = sigmoid(2) = .88
    unsure = refusal.judge("zh", {"similarity": 0.85})  # p = .5
    refused = refusal.judge("zh", {"similarity": 0.80})  # p = sigmoid(-2) = .12
    assert (sure.answerable, sure.unsure, sure.reason) == (True, False, "confident")
    assert (unsure.answerable, unsure.unsure, unsure.reason) == (True, True, "unsure")
    assert (refused.answerable, refused.unsure, refused.reason) == (False, False, "low_similarity")


def test_a_model_without_a_confident_point_has_no_band():
    refusal = RefusalModel({"zh": model({"similarity": (0.85, 0.05, 2.0)}, threshold=0.3)})
    assert refusal.judge("zh", {"similarity": 0.84}).reason == "confident"


def test_no_hit_is_refused_as_no_hit():
    verdict = RefusalModel.load(None).judge("zh", {})
    assert verdict == Verdict(False, 0.0, "no_hit", {})


@pytest.mark.parametrize(
    ("weak", "reason"),
    [
        ("similarity", "low_similarity"),
        ("margin", "close_competitor"),
        ("keyword_coverage", "low_keyword_coverage"),
        ("agreement", "little_agreement"),
        ("a_signal_with_no_name_for_it", "low_confidence"),
    ],
)
def test_a_refusal_names_the_signal_that_pulled_hardest(weak: str, reason: str):
    names = ["similarity", "margin", "keyword_coverage", "agreement", weak]
    features = {name: (0.5, 0.1, 1.0) for name in names}
    values = {name: 0.45 for name in names}  # each a little below average…
    values[weak] = 0.0  # …and one far below
    verdict = RefusalModel({"zh": model(features)}).judge("zh", values)
    assert not verdict.answerable and verdict.reason == reason


def test_a_language_without_its_own_model_uses_the_first():
    strict = model({"similarity": (0.9, 0.01, 5.0)})
    lenient = model({"similarity": (0.1, 0.01, 5.0)})
    refusal = RefusalModel({"zh": strict, "en": lenient})
    assert not refusal.judge("ja", {"similarity": 0.5}).answerable  # zh's, the first
    assert refusal.judge("en", {"similarity": 0.5}).answerable


# ---- the model file -----------------------------------------------------------------------


def test_save_and_load_give_the_same_model(tmp_path: Path):
    fitted = RefusalModel(
        {
            "zh": model({"similarity": (0.85, 0.05, 2.0), "margin": (0.02, 0.03, 0.7)}, 0.62),
            "en": LanguageModel(
                ["similarity_en"], [0.7], [0.1], [1.5], -0.2, 0.4, "eval 2026-11", {"recall": 0.9}
            ),
        }
    )
    path = fitted.save(tmp_path)
    assert path == tmp_path / MODEL_FILE
    assert json.loads(path.read_text(encoding="utf-8"))["en"]["fitted_on"] == "eval 2026-11"
    assert RefusalModel.load(tmp_path) == fitted


def test_a_fitted_model_is_kept_in_the_catalog_for_every_worker(tmp_path: Path):
    """A worker that finds a fitted model in its data directory keeps it in the catalog; a
    worker with an empty data directory on the same catalog then loads it, and a refit written
    later into a data directory replaces it."""
    fitted = RefusalModel({"zh": model({"similarity": (0.85, 0.05, 2.0)}, 0.62)})
    catalog = Catalog.sqlite(tmp_path / "shared" / "catalog.sqlite3")
    (tmp_path / "a").mkdir()
    fitted.save(tmp_path / "a")
    empty = tmp_path / "b"
    empty.mkdir()
    assert RefusalModel.load(empty, catalog) == RefusalModel.load(None)  # nothing kept yet
    assert RefusalModel.load(tmp_path / "a", catalog) == fitted
    assert RefusalModel.load(empty, catalog) == fitted
    refit = RefusalModel({"zh": model({"similarity": (0.8, 0.05, 2.5)}, 0.55)})
    refit.save(tmp_path / "a")
    assert RefusalModel.load(tmp_path / "a", catalog) == refit
    assert RefusalModel.load(empty, catalog) == refit
    catalog.close()


def test_without_a_fitted_model_the_shipped_default_loads(tmp_path: Path):
    shipped = RefusalModel.load(None)
    assert RefusalModel.load(tmp_path) == shipped  # no refusal.json in this data dir
    assert {"zh", "en"} <= set(shipped.languages)
    for language, m in shipped.languages.items():
        assert len(m.features) == len(m.mean) == len(m.scale) == len(m.coef) > 0, language
        assert set(m.features) <= set(SIGNAL_REASONS), f"{language}: a signal nobody computes"
        assert all(s > 0 for s in m.scale), language
        assert 0 < m.threshold < 1, language


def test_the_shipped_default_refuses_what_is_far_and_answers_what_is_close():
    shipped = RefusalModel.load(None)
    close = {
        "similarity": 0.97,
        "margin": 0.1,
        "similarity_en": 1.0,
        "margin_en": 0.6,
        "keyword_coverage": 1.0,
        "keyword_score": 1.3,
        "agreement": 0.1,
        "similarity_lead": 4.0,
        "specific_coverage": 1.0,
        "rank_agreement": 1.0,
        "content_coverage": 1.0,
        "rank_support": 1.0,
        "fused_lead": 0.5,
    }
    far = {
        "similarity": 0.70,
        "margin": 0.0,
        "similarity_en": 0.1,
        "margin_en": 0.0,
        "keyword_coverage": 0.0,
        "keyword_score": 0.0,
        "agreement": 0.03,
        "similarity_lead": 0.5,
        "specific_coverage": 0.0,
        "rank_agreement": 0.0,
        "content_coverage": 0.0,
        "rank_support": 0.0,
        "fused_lead": 0.0,
    }
    for language in ("zh", "en"):
        assert shipped.judge(language, close).answerable, language
        refused = shipped.judge(language, far)
        assert not refused.answerable and refused.reason != "confident", language


# ---- refusing a turn ----------------------------------------------------------------------


@pytest.fixture
def small_kb(tmp_path: Path) -> KnowledgeBase:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "運送"
    for row in (
        ("問題", "答案"),
        ("運費怎麼算？", "全館滿 NT$990 免運費，未滿收 NT$60。"),
        ("寄送離島要多少運費？", "澎湖、金門、馬祖運費 NT$220。"),
        ("下單後多久會收到商品？", "付款後 1–2 個工作天內出貨。"),
    ):
        sheet.append(row)
    book.save(tmp_path / "faq.xlsx")
    # Named e5, the hashing embedder's cosine is the turn's similarity signal.
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path / "kb")
    assert ingest_paths(kb, [tmp_path / "faq.xlsx"]).ok
    return kb


def test_an_empty_knowledge_base_refuses_with_no_hit(tmp_path: Path):
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], tmp_path)
    outcome = Answerer(HybridRetriever(kb), RefusalModel.load(None)).answer("運費怎麼算？", "zh")
    assert outcome.decision is Decision.REFUSED
    assert (outcome.reason, outcome.confidence) == ("no_hit", 0.0)
    assert outcome.reply == say("refusal", "zh")
    assert outcome.citations == () and outcome.topic is None


@pytest.mark.parametrize(
    ("weights", "reason"),
    [
        ({"similarity": 3.0, "keyword_coverage": 1.0}, "low_similarity"),
        ({"similarity": 1.0, "keyword_coverage": 3.0}, "low_keyword_coverage"),
    ],
)
def test_a_far_question_is_refused_with_its_weakest_signal(
    small_kb: KnowledgeBase, weights: dict[str, float], reason: str
):
    features = {name: (0.5, 0.1, coef) for name, coef in weights.items()}
    refusal = RefusalModel({"zh": model(features), "en": model(features)})
    outcome = Answerer(HybridRetriever(small_kb), refusal).answer("今天台北天氣如何？", "zh")

    seen = outcome.details["signals"]
    pulls = {name: coef * (seen[name] - 0.5) / 0.1 for name, coef in weights.items()}
    assert sigmoid(sum(pulls.values())) < 0.5  # the test's premise: this question is far
    assert min(pulls, key=lambda n: pulls[n]) == next(
        name for name, r in SIGNAL_REASONS.items() if r == reason
    )
    assert outcome.decision is Decision.REFUSED and outcome.reason == reason
    assert outcome.confidence == pytest.approx(sigmoid(sum(pulls.values())), abs=1e-3)
    assert outcome.reply == say("refusal", "zh") and outcome.citations == ()


def test_a_missing_signal_does_not_make_a_far_question_answerable(tmp_path: Path):
    book = openpyxl.Workbook()
    book.active.append(("問題", "答案"))
    book.active.append(("運費怎麼算？", "全館滿 NT$990 免運費。"))
    book.save(tmp_path / "faq.xlsx")
    kb = KnowledgeBase.in_memory([HashingEmbedder("custom")], tmp_path / "kb")
    ingest_paths(kb, [tmp_path / "faq.xlsx"])
    similarity_only = model({"similarity": (0.85, 0.05, 2.0)})
    refusal = RefusalModel({"zh": similarity_only, "en": similarity_only})
    outcome = Answerer(HybridRetriever(kb), refusal).answer("今天台北天氣如何？", "zh")
    assert outcome.decision is Decision.REFUSED, outcome.details


def test_a_candidates_words_are_its_items_stored_tokens_and_its_question():
    plain = scored("a", 1.0, "滿 990 元免運", "運費多少？")
    assert group([plain])[0].words == frozenset(tokenize(plain.text)) | frozenset(
        tokenize("運費多少？")
    )
    # tokens kept at ingest are taken as they are: the text is not tokenised again
    kept = dataclasses.replace(plain, tokens=("kept", "tokens"))
    assert group([kept])[0].words == frozenset({"kept", "tokens"}) | frozenset(
        tokenize("運費多少？")
    )
