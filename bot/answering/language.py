"""Which language a customer wrote in: zh or en, per message."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from ingest.language import detect_language as count_scripts

CustomerLanguage = Literal["zh", "en"]
LANGUAGES: tuple[CustomerLanguage, ...] = ("zh", "en")


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(Language.CHINESE, Language.ENGLISH).build()


def detect_customer_language(
    text: str, fallback: CustomerLanguage | None = None
) -> CustomerLanguage:
    """lingua decides between Chinese and English ("how do I 退貨" is English); a message it
    cannot place (digits, emoji, "ok?") keeps the conversation's language, else counts scripts."""
    found = _detector().detect_language_of(text)
    if found == Language.CHINESE:
        return "zh"
    if found == Language.ENGLISH:
        return "en"
    if fallback is not None:
        return fallback
    return "en" if count_scripts(text) == "en" else "zh"
