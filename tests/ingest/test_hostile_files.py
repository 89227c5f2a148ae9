"""Hostile files: each is refused or read within a time and memory budget, with a clear reason.

The files are generated here (tests/ingest/hostile.py), never committed. Peak memory is what
Python allocated while loading (tracemalloc); the reported ones cost 0.6-7 GB before.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.loaders import load_file
from ingest.model import LoadBudgets, LoadError, LoadResult
from knowledge.base import KnowledgeBase
from knowledge.ingestion import IngestOptions, ingest_paths
from tests.ingest import hostile

MB = 1024 * 1024


@dataclass
class Outcome:
    result: LoadResult | None
    error: LoadError | None
    seconds: float
    peak_mb: float


def measure(load: Callable[[], LoadResult]) -> Outcome:
    tracemalloc.start()
    started = time.perf_counter()
    result, error = None, None
    try:
        result = load()
    except LoadError as exc:
        error = exc
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Outcome(result, error, seconds, peak / MB)


def test_one_shared_string_of_100_million_characters_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    path = hostile.huge_shared_string(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 400_000
    out = measure(lambda: load_file(path))
    assert out.error is not None, "the workbook was read"
    assert out.error.source == "bomb.xlsx"
    assert "20,000 characters" in out.error.reason
    assert "KEFU_INGEST__MAX_CELL_CHARS" in out.error.reason
    assert out.seconds < 5 and out.peak_mb < 10


@pytest.mark.parametrize("ref", ["CV1000000", "XFD1048576"])
def test_a_far_cell_costs_nothing_and_the_faq_is_read(tmp_path: Path, ref: str) -> None:
    path = hostile.far_cell(tmp_path / "far.xlsx", ref)
    out = measure(lambda: load_file(path))
    assert out.seconds < 2 and out.peak_mb < 10
    assert out.result is not None, out.error
    assert out.result.items[0].text.startswith("問題: 退貨要怎麼申請？")
    row = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    far = [p for p in out.result.problems if p.where == f"sheet FAQ row {row}"]
    assert far and "no question" in far[0].reason


def test_a_zip_bomb_is_refused_from_the_zip_directory(tmp_path: Path) -> None:
    path = hostile.zip_bomb(tmp_path / "bomb.xlsx", megabytes=300)
    assert path.stat().st_size < 1 * MB
    out = measure(lambda: load_file(path))
    assert out.error is not None, "the workbook was read"
    assert "unzips to 300 MB, more than the 200 MB limit" in out.error.reason
    assert out.seconds < 1 and out.peak_mb < 5


def test_formula_cells_without_a_value_are_reported_never_answers(tmp_path: Path) -> None:
    out = measure(lambda: load_file(hostile.formulas_without_values(tmp_path / "f.xlsx")))
    assert out.result is not None, out.error
    # the calculated formula gives its value; the two never calculated leave their rows out
    assert [i.text for i in out.result.items] == ["問題: 可以刷卡嗎？\n答案: 可以"]
    reported = {p.where: p.reason for p in out.result.problems}
    assert set(reported) == {"sheet FAQ cell B2", "sheet FAQ cell B4"}
    assert "formula =A2" in reported["sheet FAQ cell B2"]
    assert "never calculated" in reported["sheet FAQ cell B4"]


def test_many_empty_cells_are_streamed_past(tmp_path: Path) -> None:
    # 150,000 stored cells with only a fill colour; the whole workbook cost 1.2 GB with 3 million.
    path = hostile.empty_cells(tmp_path / "empty.xlsx", 150_000)
    out = measure(lambda: load_file(path))
    assert out.result is not None, out.error
    assert len(out.result.items) == 1
    # Memory is the property (a read that kept the cells would take hundreds of MB); the time
    # bound only catches a read that walks the cells one by one many times over, and leaves
    # room for a machine busy with other work (2 s when idle).
    assert out.peak_mb < 10 and out.seconds < 60


def test_more_cells_than_the_budget_stop_the_read_at_the_limit(tmp_path: Path) -> None:
    rows = [hostile.HEADER] + [
        hostile.row(r, [hostile.text_cell(f"A{r}", f"問題{r}"), hostile.text_cell(f"B{r}", "是")])
        for r in range(2, 2002)
    ]
    path = hostile.write_workbook(tmp_path / "many.xlsx", rows)
    with pytest.raises(LoadError, match=r"more than 1,000 cells .*KEFU_INGEST__MAX_CELLS"):
        load_file(path, budgets=LoadBudgets(max_cells=1000))


def test_values_scattered_over_a_huge_table_are_refused(tmp_path: Path) -> None:
    # a diagonal: few values, but their table would be rows x columns cells
    rows = [hostile.HEADER] + [
        hostile.row(n, [hostile.text_cell(f"{hostile.column(n)}{n}", "x")]) for n in range(3, 200)
    ]
    path = hostile.write_workbook(tmp_path / "spread.xlsx", rows)
    with pytest.raises(LoadError, match=r"sheet 'FAQ' spreads its values over 198 rows"):
        load_file(path, budgets=LoadBudgets(max_cells=10_000))


def test_one_long_cell_is_refused_naming_it(tmp_path: Path) -> None:
    rows = [hostile.HEADER, hostile.row(2, [hostile.text_cell("B2", "長" * 30_000)])]
    path = hostile.write_workbook(tmp_path / "long.xlsx", rows)
    with pytest.raises(LoadError, match=r"cell B2 of sheet 'FAQ' holds 30,000 characters"):
        load_file(path)


def test_pdf_budgets_pages_and_text_per_page(make_pdf) -> None:
    path = make_pdf(["Returns within seven days. " * 20, "Shipping is free.", "Hours: 9-18."])
    with pytest.raises(LoadError, match=r"manual\.pdf: the PDF has 3 pages, more than the 2"):
        load_file(path, budgets=LoadBudgets(max_pages=2))
    result = load_file(path, budgets=LoadBudgets(max_page_chars=200))
    assert [i.locator for i in result.items] == ["page=2", "page=3"]
    (problem,) = result.problems
    assert problem.where == "page 1" and "more than the 200 a page may have" in problem.reason


def test_encrypted_and_corrupt_pdfs_are_refused_quickly(make_pdf, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=make_pdf(["Returns within seven days."]))
    writer.encrypt(user_password="s3cret", owner_password="owner")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 64)
    for path, reason in [(locked, "encrypted"), (corrupt, "damaged")]:
        out = measure(lambda path=path: load_file(path))
        assert out.error is not None and reason in out.error.reason
        assert out.seconds < 2 and out.peak_mb < 10


REFUSED = {
    "shared string": hostile.huge_shared_string,
    "zip bomb": lambda p: hostile.zip_bomb(p, megabytes=300),
    "formulas only": lambda p: hostile.write_workbook(
        p, [hostile.HEADER, hostile.row(2, ['<c r="A2"><f>1+1</f></c>', '<c r="B2"><f>A2</f></c>'])]
    ),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_refused_replacement_leaves_the_served_knowledge_untouched(
    hashing_kb: KnowledgeBase, tmp_path: Path, kind: str
) -> None:
    path = hostile.write_workbook(tmp_path / "shop_faq.xlsx", [hostile.HEADER, hostile.FAQ_ROW])
    assert ingest_paths(hashing_kb, [path]).ok
    before = hashing_kb.catalog.count()
    REFUSED[kind](path)
    report = ingest_paths(hashing_kb, [path], IngestOptions())
    (failed,) = report.failed
    assert failed.error and failed.error.startswith("shop_faq.xlsx: ")
    assert hashing_kb.catalog.count() == before == 1
    record = hashing_kb.catalog.source("shop_faq.xlsx")
    assert record is not None and record.status == "failed" and record.items == 1
