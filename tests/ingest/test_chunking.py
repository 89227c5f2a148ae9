"""Chunking: FAQ rows whole, passages split at sentence ends with offsets, stable ids."""

from __future__ import annotations

import dataclasses

from ingest.chunking import chunk_items
from ingest.model import Item, LoadResult
from ingest.rows import read_rows

SENTENCES = [
    "退貨申請須於收到商品後七天內提出。",
    "請登入會員中心，在訂單頁面點選申請退貨！",
    "客服人員將於一個工作天內與您聯繫？",
    "退款會在五個工作天內退回原付款方式；",
]
LONG_ZH = "".join(SENTENCES * 6)  # about 420 characters
LONG_EN = " ".join(
    ["Returns are accepted within seven days of delivery."] * 8
    + ["Log in, open the order and choose Return."] * 8
)


def faq_result(rows: list[list[str]], source: str = "faq.xlsx") -> LoadResult:
    sheet = read_rows([["問題", "答案", "分類"], *rows], source=source, sheet="FAQ")
    return LoadResult(source, sheet.items, sheet.problems)


def test_faq_items_are_never_split() -> None:
    long_answer = LONG_ZH * 5
    result = faq_result([["退貨流程？", long_answer, "退換貨"]])
    (chunk,) = chunk_items(result, chunk_size=100, chunk_overlap=10)
    assert chunk.text == f"問題: 退貨流程？\n答案: {long_answer}\n分類: 退換貨"
    assert chunk.locator == "sheet=FAQ;row=2"
    meta = chunk.metadata
    assert meta["kind"] == "faq" and meta["title"] == "退貨流程？" and meta["language"] == "zh"
    assert meta["source"] == "faq.xlsx" and meta["locator"] == chunk.locator
    assert meta["field.分類"] == "退換貨" and meta["sheet"] == "FAQ" and meta["row"] == 2


def test_english_faq_under_chinese_headers_is_english() -> None:
    (chunk,) = chunk_items(faq_result([["How do I return?", "Within 7 days.", ""]]))
    assert chunk.metadata["language"] == "en"


def test_passages_are_split_with_offsets_into_the_page() -> None:
    item = Item(LONG_ZH, "page=3", {"page": 3, "title": "退貨手冊"})
    chunks = chunk_items(LoadResult("manual.pdf", [item]), chunk_size=100, chunk_overlap=20)
    assert len(chunks) > 3
    for chunk in chunks:
        offset = chunk.metadata["offset"]
        assert chunk.locator == f"page=3;offset={offset}"
        assert LONG_ZH[offset : offset + len(chunk.text)] == chunk.text
        assert len(chunk.text) <= 100
        # keep_separator="end": a chunk ends on its sentence's punctuation
        assert chunk.text[-1] in "。！？；，"
        assert chunk.metadata["kind"] == "passage" and chunk.metadata["title"] == "退貨手冊"
        assert chunk.metadata["language"] == "zh" and chunk.metadata["page"] == 3
    offsets = [c.metadata["offset"] for c in chunks]
    assert offsets[0] == 0 and offsets == sorted(set(offsets))


def test_english_passages_split_at_sentence_ends() -> None:
    item = Item("Intro\n\n" + LONG_EN, "section=1", {"section": 1})
    chunks = chunk_items(LoadResult("guide.md", [item]), chunk_size=200, chunk_overlap=0)
    for chunk in chunks:
        offset = chunk.metadata["offset"]
        assert item.text[offset : offset + len(chunk.text)] == chunk.text
        assert chunk.metadata["language"] == "en" and chunk.metadata["title"] == ""
    assert all(c.text.endswith((".", "Intro")) for c in chunks)


def test_repeated_text_gets_increasing_offsets() -> None:
    text = "請洽客服。" * 60
    chunks = chunk_items(
        LoadResult("x.txt", [Item(text, "section=1")]), chunk_size=50, chunk_overlap=10
    )
    offsets = [c.metadata["offset"] for c in chunks]
    assert offsets == sorted(set(offsets)) and offsets[-1] + len(chunks[-1].text) == len(text)


def test_metadata_is_scalar_only() -> None:
    item = Item("文字內容。", "page=1", {"page": 1, "tags": ["a", "b"], "none": None})
    (chunk,) = chunk_items(LoadResult("m.pdf", [item]))
    assert chunk.metadata["tags"] == "a, b" and "none" not in chunk.metadata
    assert all(isinstance(v, (str, int, float, bool)) for v in chunk.metadata.values())


def test_blank_items_give_no_chunks() -> None:
    assert chunk_items(LoadResult("m.pdf", [Item("  \n ", "page=1")])) == []


def test_ids_are_stable_and_only_the_changed_row_changes() -> None:
    rows = [["Q1？", "A1", "x"], ["Q2？", "A2", "y"], ["Q3？", "A3", "z"]]
    first = chunk_items(faq_result(rows))
    again = chunk_items(faq_result([list(r) for r in rows]))
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == 3

    rows[1][1] = "A2 (updated)"
    changed = chunk_items(faq_result(rows))
    assert [a.id == b.id for a, b in zip(first, changed, strict=True)] == [True, False, True]


def test_passage_ids_are_stable() -> None:
    result = LoadResult("manual.pdf", [Item(LONG_ZH, "page=1", {"page": 1})])
    ids = [c.id for c in chunk_items(result, chunk_size=120, chunk_overlap=20)]
    copy = dataclasses.replace(result.items[0])
    assert ids == [
        c.id
        for c in chunk_items(LoadResult("manual.pdf", [copy]), chunk_size=120, chunk_overlap=20)
    ]
    assert len(set(ids)) == len(ids)
