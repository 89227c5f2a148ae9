"""Follow-ups ("那運費呢？", "and for members?") and picking an option of a clarifying question."""

from __future__ import annotations

import pytest

from bot.answering.followup import chosen_option, is_follow_up, with_context


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("那運費呢？", "zh"),
        ("那非會員呢？", "zh"),
        ("還有宅配嗎", "zh"),
        ("如果是特價商品", "zh"),
        ("會員呢", "zh"),  # only the trailing 呢
        ("離島？", "zh"),  # short: leans on the last turn
        ("and for members?", "en"),
        ("What about returns?", "en"),
        ("how about home delivery", "en"),
        ("Is that free?", "en"),
        ("Kinmen?", "en"),  # short
    ],
)
def test_a_short_or_marked_message_is_a_follow_up(text: str, language: str):
    assert is_follow_up(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("退貨要怎麼申請？", "zh"),
        ("運費怎麼算？多少錢免運？", "zh"),
        ("保固期外維修怎麼收費？", "zh"),
        ("How long does delivery take?", "en"),
        ("Can I return an item I bought on sale?", "en"),
        ("Which payment methods do you accept?", "en"),
    ],
)
def test_a_full_question_is_not_a_follow_up(text: str, language: str):
    assert not is_follow_up(text, language)


def test_markers_count_only_at_the_start():
    # "但" and "and" inside a sentence do not make it lean on the last turn
    assert not is_follow_up("我買的商品有瑕疵但是已經超過七天了怎麼辦", "zh")
    assert not is_follow_up("Can I pay by card and pick up in a store?", "en")


def test_with_context_puts_the_previous_question_first():
    assert with_context("  那運費呢？ ", "退貨要怎麼申請？") == "退貨要怎麼申請？ 那運費呢？"


OPTIONS = ["退貨要怎麼申請？", "退款多久會收到？"]
EN_OPTIONS = ["How do I request a refund?", "Can I return an item I bought on sale?"]


@pytest.mark.parametrize(
    ("text", "options", "picked"),
    [
        ("1", OPTIONS, OPTIONS[0]),
        ("2", OPTIONS, OPTIONS[1]),
        (" 2 ", OPTIONS, OPTIONS[1]),
        ("第一個", OPTIONS, OPTIONS[0]),
        ("第二個。", OPTIONS, OPTIONS[1]),
        ("第2個", OPTIONS, OPTIONS[1]),
        ("the second one", EN_OPTIONS, EN_OPTIONS[1]),
        ("The first one.", EN_OPTIONS, EN_OPTIONS[0]),
        ("1st", EN_OPTIONS, EN_OPTIONS[0]),
        # an option label without a question mark (a passage's), typed or clicked
        (
            "policy.pdf 第 1 頁的內容",
            ["policy.pdf 第 1 頁的內容", OPTIONS[0]],
            "policy.pdf 第 1 頁的內容",
        ),
        (
            "The text on page 2 of manual.pdf.",
            ["the text on page 2 of manual.pdf"],
            "the text on page 2 of manual.pdf",
        ),
    ],
)
def test_an_ordinal_or_the_option_text_picks_that_option(
    text: str, options: list[str], picked: str
):
    index = chosen_option(text, options)
    assert index is not None and options[index] == picked


@pytest.mark.parametrize(
    "text",
    ["3", "第三個", "the third one", "退貨", "運費怎麼算？", "no thanks", "12"],
)
def test_anything_else_picks_nothing(text: str):
    assert chosen_option(text, OPTIONS) is None


@pytest.mark.parametrize(
    ("text", "options", "picked"),
    [
        (OPTIONS[0], OPTIONS, OPTIONS[0]),  # the button's text, as clicked
        ("退款多久會收到", OPTIONS, OPTIONS[1]),  # typed without the mark
        (EN_OPTIONS[1], EN_OPTIONS, EN_OPTIONS[1]),
        ("how do i request a refund", EN_OPTIONS, EN_OPTIONS[0]),
    ],
)
def test_a_question_option_picked_by_its_text(text: str, options: list[str], picked: str):
    index = chosen_option(text, options)
    assert index is not None and options[index] == picked
