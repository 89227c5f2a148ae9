"""The one normaliser of text that enters kefu, and what file cells get from it."""

from __future__ import annotations

import pytest

from ingest.plain_text import UnsafeText, exact_text, is_blank, plain_text, strip_controls
from ingest.rows import read_rows


def test_controls_go_line_breaks_and_tabs_stay() -> None:
    assert plain_text("量子糾纏\x1b[31m 的包裹？") == "量子糾纏[31m 的包裹？"
    assert plain_text("鈴聲\u0007問題？\x7f\x85") == "鈴聲問題？"
    assert plain_text("一\r\n二\r三\t四") == "一\n二\n三\t四"
    assert plain_text("\ud800退貨") == "退貨"  # a lone surrogate cannot be encoded


def test_a_nul_is_refused_where_people_type_and_removed_from_files() -> None:
    with pytest.raises(UnsafeText) as refused:
        plain_text("退貨\x00")
    assert refused.value.code == "nul_character"
    assert strip_controls("退\x00貨") == "退貨"


def test_ids_are_kept_exactly_or_refused() -> None:
    assert exact_text("customer-42") == "customer-42"
    for text, code in (("c\x00", "nul_character"), ("c\t1", "control_character")):
        with pytest.raises(UnsafeText) as refused:
            exact_text(text)
        assert refused.value.code == code


def test_invisible_text_is_blank() -> None:
    assert is_blank("\u200b\u200c\u200d\ufeff\u2060\u200e \n")
    assert not is_blank("\u200b好")
    assert not is_blank("👨\u200d👩")  # a joiner inside an emoji is text


def test_file_cells_lose_their_control_characters() -> None:
    grid = [["問題", "答案"], ["鈴聲\x07問題？", "請到設定\x00關閉。"], ["\u200b", "另一個答案"]]
    found = read_rows(grid, source="faq.csv")
    first = found.items[0]
    assert first.metadata["question"] == "鈴聲問題？"
    assert first.metadata["answer"] == "請到設定關閉。"
    assert not any("\u200b" in item.text for item in found.items)
    assert not any("\x07" in item.text or "\x00" in item.text for item in found.items)
