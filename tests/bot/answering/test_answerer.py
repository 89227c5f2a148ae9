"""One message in, one decision out, over a small knowledge base written here: answered with
the knowledge base's own words and a citation, clarifying between close answers, or refused.

The hashing embedder is named e5, so its cosine is the turn's similarity signal, and the
refusal model is set by hand: p = sigmoid((similarity - 0.5) / 0.1), refuse below 0.5.
"""

from __future__ import annotations

import math

import openpyxl
import pytest
from fpdf import FPDF

from bot.answering.answerer import AnswerContext, Answerer, AnswerPolicy, Outcome
from bot.answering.followup import with_context
from bot.answering.refusal import LanguageModel, RefusalModel
from bot.answering.texts import say
from bot.conversation.events import Decision
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.ingestion import ingest_paths
from knowledge.retriever import HybridRetriever

REFUNDED = "收到退回商品後五個工作天內退款。"
SHEETS: dict[str, list[tuple[str, str]]] = {
    "退換貨": [  # rows 2…
        ("網購怎麼退貨？", "請在收到商品後七天內，到「我的訂單」點選「申請退貨」。"),
        ("門市怎麼退貨？", "請攜帶發票與商品，回到原購買門市辦理。"),
        ("會員退貨要怎麼申請？", "會員請登入後到「我的訂單」申請，物流會到府取件。"),
        ("非會員退貨要怎麼申請？", "非會員請來信客服信箱並附上訂單編號。"),
        ("退貨要多久才會退款？", REFUNDED),
        ("退款需要多久？", REFUNDED),  # one answer asked two ways
    ],
    "運送": [
        ("運費怎麼算？", "全館滿 NT$990 免運費，未滿收 NT$60。"),
        ("寄送離島要多少運費？", "澎湖、金門、馬祖運費 NT$220。"),
    ],
    "English FAQ": [
        ("How long does delivery take?", "Orders ship within 1–2 business days after payment."),
        ("Can I return an item I bought on sale?", "Yes, sale items can be returned in 7 days."),
        ("Can opened appliances be returned?", "Yes, within 7 days if nothing is missing."),
    ],
}
MANUAL_PAGES = [
    "Opened kitchen appliances can be returned within 7 days.",
    "Gift cards are sent by email within one hour of payment.",
]
SIMILARITY = LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.5)
REFUSAL = RefusalModel({"zh": SIMILARITY, "en": SIMILARITY})


def row_of(question: str) -> tuple[str, int, str]:
    """(sheet, row, answer) of a question in SHEETS."""
    for sheet, rows in SHEETS.items():
        for i, (asked, answer) in enumerate(rows, start=2):
            if asked == question:
                return sheet, i, answer
    raise KeyError(question)


def expected_confidence(outcome: Outcome) -> float:
    return 1 / (1 + math.exp(-(outcome.details["signals"]["similarity"] - 0.5) / 0.1))


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> HybridRetriever:
    folder = tmp_path_factory.mktemp("answerer")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in SHEETS.items():
        sheet = book.create_sheet(title)
        sheet.append(("Question", "Answer") if title == "English FAQ" else ("問題", "答案"))
        for row in rows:
            sheet.append(row)
    book.save(folder / "shop.xlsx")
    pdf = FPDF()
    for text in MANUAL_PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    pdf.output(str(folder / "manual.pdf"))
    kb = KnowledgeBase.in_memory([HashingEmbedder("e5")], folder / "kb")
    report = ingest_paths(kb, [folder / "shop.xlsx", folder / "manual.pdf"])
    assert report.ok, [f.error for f in report.failed]
    return HybridRetriever(kb)


@pytest.fixture(scope="module")
def answerer(retriever: HybridRetriever) -> Answerer:
    return Answerer(retriever, REFUSAL)


# ---- answered -----------------------------------------------------------------------------


def test_a_faq_question_is_answered_with_its_row_verbatim_and_cited(answerer: Answerer):
    outcome = answerer.answer("  會員退貨要怎麼申請？\n", "zh")
    sheet, row, answer = row_of("會員退貨要怎麼申請？")
    assert outcome.decision is Decision.ANSWERED
    assert outcome.reply == answer
    assert outcome.question == "會員退貨要怎麼申請？"  # stripped
    assert (outcome.reason, outcome.language, outcome.answer_mode) == (
        "confident",
        "zh",
        "extractive",
    )
    (cited,) = outcome.citations
    assert (cited.source, cited.locator) == ("shop.xlsx", f"sheet={sheet};row={row}")
    assert answer in cited.snippet
    assert outcome.topic == f"shop.xlsx › {sheet}"
    assert outcome.confidence == pytest.approx(expected_confidence(outcome), abs=1e-3)
    assert outcome.confidence >= 0.5
    assert 0 < len(outcome.retrieved) <= 10
    assert outcome.retrieved[0].item_id == cited.item_id
    assert "dense:e5" in outcome.retrieved[0].scores
    assert outcome.latency_ms > 0
    assert outcome.options == () and "follow_up" not in outcome.details


def test_an_english_question_is_answered_from_the_english_sheet(answerer: Answerer):
    outcome = answerer.answer("How long does delivery take?", "en")
    sheet, row, answer = row_of("How long does delivery take?")
    assert outcome.decision is Decision.ANSWERED and outcome.reply == answer
    assert outcome.citations[0].locator == f"sheet={sheet};row={row}"


def test_an_answer_in_the_other_language_says_so(answerer: Answerer):
    outcome = answerer.answer("How long does delivery take?", "zh")
    _, _, answer = row_of("How long does delivery take?")
    assert outcome.reply == f"{answer}\n{say('only_in_other_language', 'zh')}"


def test_rows_giving_the_same_answer_answer_once(answerer: Answerer):
    outcome = answerer.answer("退款要多久？", "zh")
    assert outcome.decision is Decision.ANSWERED and outcome.reply == REFUNDED
    rows = {f"sheet=退換貨;row={row_of(q)[1]}" for q in ("退貨要多久才會退款？", "退款需要多久？")}
    assert outcome.citations[0].locator in rows
    # one retrieved item per candidate answer: the other phrasing voted, it is not listed
    assert len({r.item_id for r in outcome.retrieved}) == len(outcome.retrieved)
    assert outcome.details["signals"]["agreement"] == pytest.approx(
        2 / 13, abs=1e-4
    )  # 2 of the 13 items (11 rows, 2 pages) agree


def test_a_passage_answers_with_its_own_sentences(answerer: Answerer):
    outcome = answerer.answer("gift cards email", "en")
    assert outcome.decision is Decision.ANSWERED
    assert outcome.reply == MANUAL_PAGES[1]
    assert outcome.citations[0].locator.startswith("page=2")
    assert outcome.topic == "manual.pdf"


# ---- refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "language"),
    [("今天台北天氣如何？", "zh"), ("Can you book me a flight to Tokyo?", "en")],
)
def test_an_off_topic_question_is_refused_in_the_customers_language(
    answerer: Answerer, question: str, language: str
):
    outcome = answerer.answer(question, language)  # type: ignore[arg-type]
    assert outcome.decision is Decision.REFUSED
    assert outcome.reply == say("refusal", language)  # type: ignore[arg-type]
    assert outcome.reason == "low_similarity"
    assert outcome.confidence < 0.5
    assert outcome.confidence == pytest.approx(expected_confidence(outcome), abs=1e-3)
    assert outcome.citations == () and outcome.options == ()
    assert outcome.retrieved  # what it looked at is kept, for the unanswered-questions report


# ---- clarifying ---------------------------------------------------------------------------


def test_two_close_answers_are_offered_as_a_choice(retriever: HybridRetriever):
    # "網購" and "門市" are 2% apart for this question (the same e5 score; BM25 a little
    # apart): a 10% gap offers both, 1% does not
    wide = Answerer(retriever, REFUSAL, AnswerPolicy(clarify_gap=0.10))
    outcome = wide.answer("怎麼退貨？", "zh")
    assert outcome.decision is Decision.CLARIFYING
    assert outcome.reply == say("clarify", "zh")
    assert outcome.reason == "close_candidates"
    assert outcome.options == ("網購怎麼退貨？", "門市怎麼退貨？")
    assert [c.locator for c in outcome.citations] == ["sheet=退換貨;row=2", "sheet=退換貨;row=3"]

    narrow = Answerer(retriever, REFUSAL, AnswerPolicy(clarify_gap=0.01)).answer("怎麼退貨？", "zh")
    assert narrow.decision is Decision.ANSWERED and narrow.options == ()


@pytest.mark.parametrize(("pick", "index"), [("1", 0), ("第二個", 1), ("2", 1)])
def test_the_customer_picks_an_option(answerer: Answerer, pick: str, index: int):
    options = ("網購怎麼退貨？", "門市怎麼退貨？")
    outcome = answerer.answer(pick, "zh", AnswerContext("怎麼退貨？", options))
    sheet, row, answer = row_of(options[index])
    assert outcome.decision is Decision.ANSWERED and outcome.reply == answer
    assert outcome.citations[0].locator == f"sheet={sheet};row={row}"
    assert outcome.question == options[index]
    assert outcome.details["picked_option"] == options[index]
    assert outcome.reason == "confident"


def _offers_the_manual(retriever: HybridRetriever) -> Answerer:
    # The FAQ row's own question matches this one best (25% ahead of the manual's page 1,
    # which wins on BM25 alone): a gap that wide makes both an option.
    return Answerer(retriever, REFUSAL, AnswerPolicy(clarify_gap=0.3))


def test_a_passage_is_offered_by_its_page(retriever: HybridRetriever):
    outcome = _offers_the_manual(retriever).answer("return opened kitchen appliances", "en")
    assert outcome.decision is Decision.CLARIFYING
    # named by the document's title (here none: the file's name without ".pdf"), never the file
    assert outcome.options == (
        "Can opened appliances be returned?",
        "the text on page 1 of manual",
    )
    assert outcome.citations[1].locator.startswith("page=1")


def test_picking_a_passage_option_answers_from_that_passage(retriever: HybridRetriever):
    answerer = _offers_the_manual(retriever)
    asked = answerer.answer("return opened kitchen appliances", "en")
    assert asked.decision is Decision.CLARIFYING
    offered = tuple(c.item_id for c in asked.citations)
    picked = answerer.answer("2", "en", AnswerContext(asked.question, asked.options, offered))
    assert picked.decision is Decision.ANSWERED, (picked.reason, picked.details)
    assert picked.citations[0].item_id == asked.citations[1].item_id
    assert picked.reply == MANUAL_PAGES[0]


# ---- the middle band: the closest item offered --------------------------------------------

BANDED = RefusalModel(
    {
        lang: LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.5, confident=0.99)
        for lang in ("zh", "en")
    }
)  # refuse below similarity .5, answer from .96, offer the closest item between


def test_an_unsure_match_offers_the_closest_item_and_a_person(retriever: HybridRetriever):
    outcome = Answerer(retriever, BANDED).answer("離島運費多少？", "zh")
    similarity = outcome.details["signals"]["similarity"]
    assert 0.5 <= similarity < 0.96, similarity  # the premise: in the band
    assert outcome.decision is Decision.CLARIFYING
    assert outcome.reason == "closest_match"
    assert outcome.reply == say("closest_match", "zh")
    assert outcome.options == ("寄送離島要多少運費？",)
    [cited] = outcome.citations
    assert cited.locator == "sheet=運送;row=3"
    assert 0.5 <= outcome.confidence < 0.99

    # without a band the same turn is an answer
    plain = Answerer(retriever, REFUSAL).answer("離島運費多少？", "zh")
    assert plain.decision is Decision.ANSWERED


def test_a_sure_match_is_answered_and_a_far_one_refused_with_a_band(retriever: HybridRetriever):
    banded = Answerer(retriever, BANDED)
    assert banded.answer("寄送離島要多少運費？", "zh").decision is Decision.ANSWERED
    assert banded.answer("今天台北天氣如何？", "zh").decision is Decision.REFUSED


def test_picking_the_closest_item_answers_it(retriever: HybridRetriever):
    banded = Answerer(retriever, BANDED)
    offered = banded.answer("離島運費多少？", "zh")
    context = AnswerContext(
        offered.question, offered.options, tuple(c.item_id for c in offered.citations)
    )
    for pick in ("1", "寄送離島要多少運費？"):
        picked = banded.answer(pick, "zh", context)
        assert picked.decision is Decision.ANSWERED, pick
        assert picked.reply == row_of("寄送離島要多少運費？")[2]
        assert picked.reason == "picked_option"


OFFERING = RefusalModel(
    {
        lang: LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.99, offer=0.5)
        for lang in ("zh", "en")
    }
)  # answer from similarity .96, offer the closest items from .5, refuse below


def test_below_the_refusal_threshold_the_closest_items_are_offered_to_pick_from(
    retriever: HybridRetriever,
):
    offering = Answerer(retriever, OFFERING)
    offered = offering.answer("離島運費多少？", "zh")
    assert 0.5 <= offered.confidence < 0.99  # the premise: below refusing, within the offer
    assert offered.decision is Decision.CLARIFYING
    assert offered.reason == "closest_match"
    assert offered.reply == say("closest_matches", "zh")
    assert 1 < len(offered.options) <= AnswerPolicy().max_offered
    assert len(offered.citations) == len(offered.options)
    assert "寄送離島要多少運費？" in offered.options
    assert len({c.item_id for c in offered.citations}) == len(offered.citations)

    context = AnswerContext(
        offered.question, offered.options, tuple(c.item_id for c in offered.citations)
    )
    index = offered.options.index("寄送離島要多少運費？")
    picked = offering.answer(str(index + 1), "zh", context)
    assert picked.decision is Decision.ANSWERED
    assert picked.reply == row_of("寄送離島要多少運費？")[2]

    # a question far from everything is still refused flatly, and without the band's lower
    # part the same unsure turn is a refusal
    assert offering.answer("今天台北天氣如何？", "zh").decision is Decision.REFUSED
    flat = RefusalModel(
        {
            lang: LanguageModel(["similarity"], [0.5], [0.1], [1.0], 0.0, 0.99)
            for lang in "zh en".split()
        }
    )
    assert Answerer(retriever, flat).answer("離島運費多少？", "zh").decision is Decision.REFUSED


# ---- follow-ups ---------------------------------------------------------------------------


def test_a_follow_up_is_answered_with_the_previous_question(answerer: Answerer):
    outcome = answerer.answer("那非會員呢？", "zh", AnswerContext("會員退貨要怎麼申請？"))
    _, row, answer = row_of("非會員退貨要怎麼申請？")
    assert outcome.decision is Decision.ANSWERED and outcome.reply == answer
    assert outcome.citations[0].locator == f"sheet=退換貨;row={row}"
    assert outcome.reason == "follow_up"
    assert outcome.question == with_context("那非會員呢？", "會員退貨要怎麼申請？")
    seen = outcome.details["follow_up"]
    assert seen["alone"] < seen["with_context"] == pytest.approx(outcome.confidence, abs=1e-4)


def test_a_follow_up_that_stands_alone_keeps_its_own_words(answerer: Answerer):
    outcome = answerer.answer("門市怎麼退貨？", "zh", AnswerContext("怎麼退貨？"))
    assert outcome.question == "門市怎麼退貨？" and outcome.reason == "confident"
    assert outcome.reply == row_of("門市怎麼退貨？")[2]
    seen = outcome.details["follow_up"]
    assert seen["alone"] >= seen["with_context"]


def test_a_full_question_is_not_read_as_a_follow_up(answerer: Answerer):
    outcome = answerer.answer("寄送離島要多少運費？", "zh", AnswerContext("會員退貨要怎麼申請？"))
    assert "follow_up" not in outcome.details
    assert outcome.question == "寄送離島要多少運費？"
    assert outcome.reply == row_of("寄送離島要多少運費？")[2]


def test_an_off_topic_follow_up_is_still_refused(answerer: Answerer):
    outcome = answerer.answer("那今天台北天氣如何？", "zh", AnswerContext("運費怎麼算？"))
    assert outcome.decision is Decision.REFUSED, (outcome.reply, outcome.details)
