"""Follow-ups: a short message that leans on the last turn ("那運費呢？", "and for members?"),
and a reply to a clarifying question ("2", "第一個", or the option itself)."""

from __future__ import annotations

import re

from ingest.language import HAN

_MARKER_ZH = re.compile(
    r"^(那|那麼|還有|另外|如果|若是?|要是|但|可是|而|至於|換成)|呢\s*[？?]?\s*$"
)
_MARKER_EN = re.compile(
    r"^(and|what about|how about|also|but|what if|same for|is that|does that|for|or)\b", re.I
)
_HAN_RE = re.compile(f"[{HAN}]")
SHORT_HAN = 6  # Chinese messages this short rarely stand alone
SHORT_WORDS = 4

_ORDINALS = {
    1: ("1", "一", "第一", "第一個", "第1個", "first", "the first", "the first one", "1st"),
    2: ("2", "二", "第二", "第二個", "第2個", "second", "the second", "the second one", "2nd"),
    3: ("3", "三", "第三", "第三個", "第3個", "third", "the third", "the third one", "3rd"),
}


def is_follow_up(text: str, language: str) -> bool:
    text = text.strip()
    if language == "zh":
        return bool(_MARKER_ZH.search(text)) or len(_HAN_RE.findall(text)) <= SHORT_HAN
    return bool(_MARKER_EN.search(text)) or len(text.split()) <= SHORT_WORDS


def with_context(text: str, previous_question: str) -> str:
    """The message completed with the question it follows (retrieval weighs both)."""
    return f"{previous_question} {text.strip()}"


def _bare(text: str) -> str:
    return re.sub(r"[\s。.!！?？]+$", "", text.strip().lower())


def chosen_option(text: str, options: list[str]) -> int | None:
    """Which option (0-based) a customer picked after a clarifying question, if any."""
    said = _bare(text)
    for i, option in enumerate(options):
        if said == _bare(option):
            return i
    for number, words in _ORDINALS.items():
        if number <= len(options) and said in words:
            return number - 1
    return None
