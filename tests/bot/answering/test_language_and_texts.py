"""The customer's language per message, and the bot's fixed texts in zh-TW and English."""

from __future__ import annotations

import re
from string import Formatter

import opencc
import pytest

from bot.answering.language import detect_customer_language
from bot.answering.texts import TEXTS, both, say

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("退貨要怎麼申請？", "zh"),
        ("退货要怎么申请", "zh"),  # Simplified is Chinese too
        ("How long does delivery take?", "en"),
        ("Can you book me a flight to Tokyo?", "en"),
    ],
)
def test_a_plain_message_is_in_its_language(text: str, expected: str):
    assert detect_customer_language(text) == expected


@pytest.mark.parametrize(
    ("text", "fallback", "expected"),
    [
        ("how do I 退貨", None, "en"),
        ("How long does delivery take?", "zh", "en"),
        ("and for members?", "zh", "en"),
        ("退貨要怎麼申請？", "en", "zh"),
        ("line pay付的退款要等幾天", "en", "zh"),
        ("點數會expire嗎", None, "zh"),
        ("LINE Pay付款可以用LINE POINTS折抵嗎", None, "zh"),
        ("can I 退貨 if I opened it", "zh", "en"),
    ],
)
def test_a_mixed_message_goes_by_its_words_and_outweighs_the_conversation(
    text: str, fallback: str | None, expected: str
):
    """A mixed message is in the language most of its words are in, and a customer may switch
    language mid-way."""
    assert detect_customer_language(text, fallback) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["123", "2", "😀👍", "  ", "#1024"])
@pytest.mark.parametrize("fallback", ["zh", "en"])
def test_a_message_with_no_language_keeps_the_conversations(text: str, fallback: str):
    assert detect_customer_language(text, fallback) == fallback  # type: ignore[arg-type]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def test_every_fixed_text_exists_in_both_languages_with_the_same_placeholders():
    assert TEXTS
    for key, texts in TEXTS.items():
        assert set(texts) == {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key
        assert HAN.search(texts["zh"]), f"{key}: the zh text is not in Chinese"
        assert not HAN.search(texts["en"]), f"{key}: the en text has Chinese in it"


def test_the_zh_texts_are_traditional_chinese():
    to_taiwan = opencc.OpenCC("s2twp")  # Simplified → Traditional with Taiwanese wording
    for key, texts in TEXTS.items():
        assert to_taiwan.convert(texts["zh"]) == texts["zh"], key


def test_say_fills_the_placeholders_and_both_gives_each_language():
    assert say("error_message_too_long", "en", limit=4000) == (
        "That message is too long (limit 4000 characters). Please shorten it."
    )
    assert "4000" in say("error_message_too_long", "zh", limit=4000)
    assert both("clarify_passage", source="policy.pdf", page=3) == {
        "zh": "policy.pdf 第 3 頁的內容",
        "en": "the text on page 3 of policy.pdf",
    }
    with pytest.raises(KeyError):
        say("error_message_too_long", "zh")  # a placeholder left empty is a bug, not a blank
