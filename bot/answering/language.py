"""Which language a customer wrote in: zh or en, per message."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from ingest.language import HAN
from ingest.language import detect_language as count_scripts

CustomerLanguage = Literal["zh", "en"]
LANGUAGES: tuple[CustomerLanguage, ...] = ("zh", "en")
_HAN_RE = re.compile(f"[{HAN}]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# A Chinese word is about two characters: a mixed message is in the language most of its words
# are in (the everyday "line pay付的退款要等幾天" is Chinese, "how do I 退貨" English).
CHARS_PER_WORD = 2


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(Language.CHINESE, Language.ENGLISH).build()


def detect_customer_language(
    text: str, fallback: CustomerLanguage | None = None
) -> CustomerLanguage:
    """A message in both scripts goes by which has more of its words ("line pay付的退款要等幾天"
    is Chinese, "how do I 退貨" English: lingua read the first as English); lingua decides the
    rest and a tie; a message it cannot place (digits, emoji, "ok?") keeps the conversation's
    language, else counts scripts."""
    chinese = len(_HAN_RE.findall(text)) / CHARS_PER_WORD
    english = len(_LATIN_WORD.findall(text))
    if chinese and english and chinese != english:
        return "zh" if chinese > english else "en"
    found = _detector().detect_language_of(text)
    if found == Language.CHINESE:
        return "zh"
    if found == Language.ENGLISH:
        return "en"
    if fallback is not None:
        return fallback
    return "en" if count_scripts(text) == "en" else "zh"
