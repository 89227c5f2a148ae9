"""The demo shop ingested with the real models into a real Chroma, then searched and changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from knowledge.base import KnowledgeBase
from knowledge.ingestion import IngestOptions, ingest_paths
from knowledge.retriever import HybridRetriever

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("models")]


def question_row(xlsx: Path, sheet: str, startswith: str) -> int:
    ws = load_workbook(xlsx)[sheet]
    for row in ws.iter_rows():
        if isinstance(row[0].value, str) and row[0].value.startswith(startswith):
            return row[0].row
    raise AssertionError(f"no row starting with {startswith!r} in {sheet}")


def test_demo_ingest_and_search_in_both_languages(real_kb: KnowledgeBase, demo_folder: Path):
    report = ingest_paths(real_kb, [demo_folder], IngestOptions())
    assert report.ok, [f.error for f in report.failed]
    assert {f.source for f in report.files} == {"shop_faq.xlsx", "orders_export.csv", "policy.pdf"}
    retriever = HybridRetriever(real_kb)

    top = retriever.search("請問退貨要怎麼申請？", 3)[0]
    assert top.source == "shop_faq.xlsx" and top.metadata["sheet"] == "退換貨"
    assert top.metadata["question"].startswith("退貨要怎麼申請")
    assert {"dense:e5", "keyword"} <= set(top.scores)

    # Simplified Chinese finds the Traditional item.
    assert retriever.search("退货要怎么申请", 1)[0].id == top.id

    en = retriever.search("how many days until my parcel arrives", 3)[0]
    assert en.source == "shop_faq.xlsx" and en.metadata["sheet"] == "English FAQ"
    assert "delivery" in en.metadata["question"].lower()
    assert "dense:minilm" in en.scores

    pdf = retriever.search("隱私權政策會蒐集哪些個人資料", 3)
    assert any(h.source == "policy.pdf" and h.metadata.get("page") == 2 for h in pdf)


def test_changing_one_row_reembeds_one_chunk_and_deleting_removes_it(
    real_kb: KnowledgeBase, demo_folder: Path
):
    ingest_paths(real_kb, [demo_folder], IngestOptions())
    xlsx = demo_folder / "shop_faq.xlsx"
    row = question_row(xlsx, "運送", "運費")
    wb = load_workbook(xlsx)
    wb["運送"].cell(row=row, column=2).value = "全館滿 NT$1,500 免運費，未滿收 NT$80。"
    wb.save(xlsx)

    report = ingest_paths(real_kb, [demo_folder], IngestOptions())
    by_source = {f.source: f for f in report.files}
    diff = by_source["shop_faq.xlsx"].diff
    assert diff is not None
    assert diff.changed == [f"sheet=運送;row={row}"] and not diff.added and not diff.removed
    assert diff.embedded == 1  # a zh row: e5 only, MiniLM serves English chunks
    assert by_source["policy.pdf"].skipped and by_source["orders_export.csv"].skipped
    hit = HybridRetriever(real_kb).search("運費怎麼算？多少錢免運？", 1)[0]
    assert "1,500" in hit.text

    # Deleting a row moves the rows below it up: they keep their vectors.
    wb = load_workbook(xlsx)
    paid = wb["付款"]
    gone = paid.cell(row=3, column=1).value
    below = paid.max_row - 3
    paid.delete_rows(3)
    wb.save(xlsx)
    before = real_kb.catalog.count()
    report = ingest_paths(real_kb, [demo_folder], IngestOptions())
    diff = next(f.diff for f in report.files if f.source == "shop_faq.xlsx")
    assert diff is not None
    assert diff.removed == ["sheet=付款;row=3"] and diff.moved == below and diff.embedded == 0
    assert real_kb.catalog.count() == before - 1
    ids = list(real_kb.catalog.get(real_kb.catalog.all_tokens()[0]))
    assert real_kb.vectors.present("e5", ids) == set(ids)
    assert all(h.metadata.get("question") != gone for h in HybridRetriever(real_kb).search(gone, 5))


def test_broken_file_keeps_what_was_serving(real_kb: KnowledgeBase, demo_folder: Path):
    ingest_paths(real_kb, [demo_folder], IngestOptions())
    count = real_kb.catalog.count()
    (demo_folder / "policy.pdf").write_bytes(b"%PDF-1.7\n this is not a pdf any more")
    report = ingest_paths(real_kb, [demo_folder], IngestOptions())
    assert not report.ok
    failed = report.failed[0]
    assert failed.source == "policy.pdf" and "policy.pdf" in (failed.error or "")
    assert real_kb.catalog.count() == count
    record = real_kb.catalog.source("policy.pdf")
    assert record is not None and record.status == "failed" and record.items > 0
    hits = HybridRetriever(real_kb).search("保固條款 一年保固", 5)
    assert any(h.source == "policy.pdf" for h in hits)


def test_file_deleted_from_folder_is_removed(real_kb: KnowledgeBase, demo_folder: Path):
    ingest_paths(real_kb, [demo_folder], IngestOptions())
    (demo_folder / "orders_export.csv").unlink()
    dry = ingest_paths(real_kb, [demo_folder], IngestOptions(dry_run=True))
    assert "orders_export.csv" in dry.removed_sources
    assert real_kb.catalog.source("orders_export.csv") is not None
    report = ingest_paths(real_kb, [demo_folder], IngestOptions())
    assert report.removed_sources["orders_export.csv"] > 0
    assert real_kb.catalog.source("orders_export.csv") is None
    assert all(
        h.source != "orders_export.csv" for h in HybridRetriever(real_kb).search("取消訂單", 5)
    )
