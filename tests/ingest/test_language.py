"""detect_language: zh, en or und from character counts."""

from __future__ import annotations

import pytest

from ingest.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("退貨要怎麼申請？", "zh"),
        ("How do I return an item?", "en"),
        ("請到 Settings 頁面設定", "zh"),
        ("Log in with your LINE 帳號 first, then open the order page", "en"),
        ("12345 !!! ---", "und"),
        ("", "und"),
        ("ＦＡＱ", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language
