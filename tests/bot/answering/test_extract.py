"""Candidate answers from hits, the extractive reply, and where a citation points."""

from __future__ import annotations

from typing import Any

import pytest

from bot.answering.candidates import VOTE_DEPTH, VOTE_WEIGHT, answer_key, group
from bot.answering.extract import (
    SNIPPET_CHARS,
    citation,
    citation_label,
    customer_label,
    reply_text,
    sentences,
)
from bot.conversation.events import Citation
from knowledge.retriever import Hit

REFUND = "收到退回商品並檢查無誤後，會在 5 個工作天內辦理退款。"


def hit(
    item_id: str,
    score: float,
    *,
    text: str = "",
    question: str | None = None,
    answer: str | None = None,
    source: str = "shop_faq.xlsx",
    locator: str = "sheet=退換貨;row=2",
    **metadata: Any,
) -> Hit:
    if question is not None:
        metadata["question"] = question
    if answer is not None:
        metadata["answer"] = answer
    body = text or f"問題: {question}\n答案: {answer}"
    return Hit(item_id, body, source, locator, metadata, score, {}, {})


# ---- candidates ---------------------------------------------------------------------------


def test_rows_with_the_same_answer_are_one_candidate_that_votes():
    hits = [
        hit("a", 1.00, question="退款要多久？", answer="三天內退款。"),
        hit("b", 0.95, question="退貨多久會拿到錢？", answer=REFUND),
        hit("c", 0.60, question="退款多久會收到？", answer=REFUND),
        # the same answer in other width, case and script still is the same answer
        hit("d", 0.40, question="退款什麼時候到帳？", answer=REFUND.replace("5", "５")),
    ]
    best, single = group(hits)
    assert [h.id for h in best.hits] == ["b", "c", "d"]  # best first
    assert best.score == pytest.approx(0.95 + VOTE_WEIGHT * (0.60 + 0.40))
    assert best.score > single.score == 1.00  # three phrasings outweigh one lucky match
    assert best.question == "退貨多久會拿到錢？" and best.answer == REFUND and best.is_faq


def test_each_passage_is_its_own_candidate():
    text = "保固期滿後仍可付費維修。"
    hits = [
        hit("p1", 0.9, text=text, source="policy.pdf", locator="page=4;offset=0"),
        hit("p2", 0.8, text=text, source="policy.pdf", locator="page=4;offset=90"),
    ]
    candidates = group(hits)
    assert [c.key for c in candidates] == ["item:p1", "item:p2"]
    assert not candidates[0].is_faq and candidates[0].answer is None
    assert candidates[0].topic == "policy.pdf"


def test_the_topic_is_the_sheet_of_a_row():
    (candidate,) = group([hit("a", 1.0, question="q", answer="a", sheet="運送")])
    assert candidate.topic == "shop_faq.xlsx › 運送"
    assert answer_key(candidate.best) == "answer:a"


def test_only_the_first_hits_vote():
    same = [hit(f"h{i}", 1.0 - i / 100, question=f"q{i}", answer="同一個答案") for i in range(40)]
    (candidate,) = group(same)
    assert len(candidate.hits) == VOTE_DEPTH
    assert candidate.score == pytest.approx(
        same[0].score + VOTE_WEIGHT * sum(h.score for h in same[1:VOTE_DEPTH])
    )


def test_candidates_come_best_first():
    hits = [
        hit("x", 0.5, question="x", answer="X"),
        hit("y", 0.9, question="y", answer="Y"),
        hit("z", 0.7, question="z", answer="Z"),
    ]
    assert [c.answer for c in group(hits)] == ["Y", "Z", "X"]
    assert group([]) == []


# ---- the reply ----------------------------------------------------------------------------


def test_a_faq_row_replies_with_its_answer_verbatim():
    answer = "全館單筆消費滿 NT$990 免運費。未滿 NT$990 時，超商取貨運費 NT$60，宅配運費 NT$100。"
    (candidate,) = group([hit("a", 1.0, question="運費怎麼算？", answer=answer)])
    assert reply_text(candidate, "運費多少？") == answer


def test_sentences_split_in_both_scripts_but_not_inside_numbers():
    assert sentences("退貨免運。請在 7 天內申請！要附發票嗎？要。") == [
        "退貨免運。",
        "請在 7 天內申請！",
        "要附發票嗎？",
        "要。",
    ]
    assert sentences("Fees rose 1.5 percent. Ask us!\nThanks") == [
        "Fees rose 1.5 percent.",
        "Ask us!",
        "Thanks",
    ]


POLICY = (
    "本公司重視您的隱私。"  # 0
    "會員資料僅用於訂單處理。"  # 1
    "保固期滿後仍可付費維修。"  # 2
    "每件商品酌收檢測費新台幣三百元。"  # 3
    "確定維修後可折抵維修費用。"  # 4
    "門市營業時間為每日上午十點至晚上九點。"  # 5
)


def passage(text: str, source: str = "policy.pdf") -> Any:
    (candidate,) = group([hit("p", 1.0, text=text, source=source, locator="page=4;offset=0")])
    return candidate


def test_a_passage_replies_with_its_sentences_that_answer_in_their_order():
    parts = sentences(POLICY)
    # The best sentence (保固期滿 … 維修), the one after it, and the next most relevant one
    # (維修費用), in the passage's order; privacy and opening hours are left out.
    assert reply_text(passage(POLICY), "保固期滿後維修要收費嗎？") == "".join(
        [parts[2], parts[3], parts[4]]
    )


def test_a_passage_keeps_the_order_of_the_passage_not_of_the_ranking():
    parts = sentences(POLICY)
    # 營業時間 matches best, 隱私 second: the reply still reads top to bottom
    reply = reply_text(passage(POLICY), "隱私和營業時間")
    assert reply == parts[0] + parts[5]


def test_a_short_passage_is_replied_whole():
    short = "保固期滿後仍可付費維修。每件商品酌收檢測費新台幣三百元。"
    assert reply_text(passage(f"  {short}\n"), "費用") == short


def test_an_english_passage_keeps_its_spaces():
    text = (
        "Our shop opened in 2019. Returns are free within 7 days. Refunds take 5 business "
        "days. Gift cards cannot be refunded. We love tea."
    )
    reply = reply_text(passage(text, "manual.pdf"), "how long do refunds take?")
    assert reply == "Refunds take 5 business days. Gift cards cannot be refunded."


def test_a_question_sharing_no_word_with_a_long_passage_gets_its_opening():
    parts = sentences(POLICY)
    assert reply_text(passage(POLICY), "Tokyo flights") == parts[0] + parts[1]


# ---- citations ----------------------------------------------------------------------------


def test_a_citation_names_the_item_its_file_and_place_with_a_short_snippet():
    long_text = "問題: 退貨要怎麼申請？\n答案: " + "請登入會員後到我的訂單申請退貨。" * 20
    (candidate,) = group(
        [hit("faq-4", 1.0, text=long_text, question="退貨要怎麼申請？", answer="…")]
    )
    cited = citation(candidate)
    assert (cited.item_id, cited.source, cited.locator) == (
        "faq-4",
        "shop_faq.xlsx",
        "sheet=退換貨;row=2",
    )
    assert cited.snippet == long_text[:SNIPPET_CHARS] + "…"
    (short,) = group([hit("faq-5", 1.0, question="q", answer="a")])
    assert citation(short).snippet == short.best.text


@pytest.mark.parametrize(
    ("source", "locator", "zh", "en"),
    [
        (
            "shop_faq.xlsx",
            "sheet=退換貨;row=5",
            "shop_faq.xlsx · 退換貨 · 第 5 列",
            "shop_faq.xlsx · 退換貨 · row 5",
        ),
        (
            "orders_export.csv",
            "row=11",
            "orders_export.csv · 第 11 列",
            "orders_export.csv · row 11",
        ),
        ("policy.pdf", "page=3;offset=120", "policy.pdf · 第 3 頁", "policy.pdf · p. 3"),
        ("notes.txt", "section=1", "notes.txt", "notes.txt"),
    ],
)
def test_citation_label_in_both_languages(source: str, locator: str, zh: str, en: str):
    cited = Citation("id", source, locator, "…")
    assert citation_label(cited, "zh") == zh
    assert citation_label(cited, "en") == en


# ---- what a customer is shown ---------------------------------------------------------------


def test_a_faq_rows_citation_shows_the_customer_its_question_not_the_file_and_row():
    row = hit("faq-5", 1.0, question=" 鑑賞期是幾天？ ", answer="7 天", kind="faq")
    cited = citation(group([row])[0])
    assert cited.title == "鑑賞期是幾天？" and cited.url == ""
    for language in ("zh", "en"):
        label = customer_label(cited, language)
        assert label == "鑑賞期是幾天？"
        assert "shop_faq" not in label and "列" not in label and "row" not in label


@pytest.mark.parametrize(
    ("metadata", "zh", "en"),
    [
        (
            {"title": "好日子生活選物 服務條款與政策"},
            "好日子生活選物 服務條款與政策 · 第 3 頁",
            "好日子生活選物 服務條款與政策 · p. 3",
        ),
        ({}, "policy · 第 3 頁", "policy · p. 3"),  # no title: the file's name, no extension
    ],
)
def test_a_pdf_passage_shows_its_title_and_page(metadata: dict[str, Any], zh: str, en: str):
    passage = hit(
        "pdf-3",
        1.0,
        text="保固期滿後仍可付費維修。",
        source="policy.pdf",
        locator="page=3;offset=120",
        kind="passage",
        page=3,
        **metadata,
    )
    cited = citation(group([passage])[0])
    assert customer_label(cited, "zh") == zh
    assert customer_label(cited, "en") == en
    # agents keep the file and page
    assert citation_label(cited, "en") == "policy.pdf · p. 3"


def test_a_csv_row_without_a_title_falls_back_to_the_file_stem_in_old_logs():
    logged = Citation("id", "orders_export.csv", "row=11", "…")  # logged before titles existed
    assert customer_label(logged, "zh") == "orders_export"


@pytest.mark.parametrize(
    ("column", "value", "url"),
    [
        ("field.URL", "https://shop.example/faq/returns", "https://shop.example/faq/returns"),
        ("field.連結", " http://shop.example/a ", "http://shop.example/a"),
        ("field.網址", "HTTPS://shop.example/b", "HTTPS://shop.example/b"),
        ("field.URL", "javascript:alert(1)", ""),  # not a link a customer may follow
        ("field.URL", "\\\\fileserver\\faq.xlsx", ""),
        ("field.備註", "https://shop.example/c", ""),  # a link in another column is not its URL
    ],
)
def test_a_citation_links_only_to_a_public_address_in_a_url_column(
    column: str, value: str, url: str
):
    row = hit("faq-9", 1.0, question="q", answer="a", kind="faq", **{column: value})
    assert citation(group([row])[0]).url == url
