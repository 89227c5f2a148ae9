"""Cheap, deterministic language tag for a chunk: "zh", "en", or "und" when it has no letters.

Counting, not guessing: Han characters against Latin letters. One Chinese character carries
about as much as a short English word, so Han characters are weighted ×3 against letters
("請到 Settings 頁面設定" is Chinese; "Log in with your LINE 帳號" is English).
"""

from __future__ import annotations

import re

# Han ideographs (Extension A, URO, compatibility) and bopomofo.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3100-\u312f\u31a0-\u31bf"
# CJK punctuation, full-width forms, kana: characters that sit in Chinese/Japanese text.
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef\u30fb"
_HAN_RE = re.compile(f"[{HAN}]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f\uff21-\uff3a\uff41-\uff5a]")
HAN_WEIGHT = 3


def detect_language(text: str) -> str:
    han = len(_HAN_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    if not han and not latin:
        return "und"
    return "zh" if han * HAN_WEIGHT >= latin else "en"
