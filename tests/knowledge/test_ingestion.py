"""Ingesting folders: per-file diffs, isolated failures, gone files removed, unchanged skipped."""

from __future__ import annotations

import csv
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.ingestion import IngestOptions, ingest_paths


def write_csv(path: Path, rows: list[tuple[str, str]], encoding: str = "utf-8") -> None:
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(["問題", "答案"])
        w.writerows(rows)


FAQ = [("退貨要怎麼申請？", "到貨七天內在會員中心申請。"), ("運費多少？", "滿 990 元免運。")]


def test_folder_ingest_reports_each_file(hashing_kb: KnowledgeBase, tmp_path: Path):
    folder = tmp_path / "kb"
    folder.mkdir()
    write_csv(folder / "faq.csv", FAQ)
    write_csv(folder / "big5.csv", [("營業時間？", "週一到週五 9:00-18:00。")], encoding="cp950")
    report = ingest_paths(hashing_kb, [folder])
    assert report.ok
    diffs = {f.source: f.diff for f in report.files}
    assert len(diffs["faq.csv"].added) == 2 and len(diffs["big5.csv"].added) == 1
    assert hashing_kb.catalog.count() == 3


def test_unchanged_file_is_skipped_and_force_rereads_without_embedding(
    hashing_kb: KnowledgeBase, tmp_path: Path
):
    write_csv(tmp_path / "faq.csv", FAQ)
    ingest_paths(hashing_kb, [tmp_path / "faq.csv"])
    again = ingest_paths(hashing_kb, [tmp_path / "faq.csv"]).files[0]
    assert again.skipped and again.diff is not None and again.diff.unchanged == 2
    forced = ingest_paths(hashing_kb, [tmp_path / "faq.csv"], IngestOptions(force=True)).files[0]
    assert not forced.skipped and forced.diff is not None
    assert forced.diff.unchanged == 2 and forced.diff.embedded == 0


def test_bad_files_fail_alone_with_clear_messages(hashing_kb: KnowledgeBase, tmp_path: Path):
    folder = tmp_path / "kb"
    folder.mkdir()
    write_csv(folder / "faq.csv", FAQ)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    (folder / "huge.txt").write_text("退貨" * 40_000, encoding="utf-8")
    report = ingest_paths(hashing_kb, [folder], IngestOptions(max_bytes=100_000))
    errors = {f.source: f.error for f in report.failed}
    assert set(errors) == {"empty.csv", "notes.docx", "huge.txt"}
    for source, error in errors.items():
        assert error and source in error
    assert "MB" in errors["huge.txt"]
    assert hashing_kb.catalog.count() == 2


def test_a_file_that_breaks_keeps_its_chunks(hashing_kb: KnowledgeBase, tmp_path: Path):
    path = tmp_path / "faq.csv"
    write_csv(path, FAQ)
    ingest_paths(hashing_kb, [path])
    path.write_bytes(b"")
    report = ingest_paths(hashing_kb, [path])
    assert not report.ok and hashing_kb.catalog.count() == 2
    record = hashing_kb.catalog.source("faq.csv")
    assert record is not None and record.status == "failed" and record.last_error
    # once fixed, it is read again (the failure cleared its fingerprint)
    write_csv(path, FAQ[:1])
    fixed = ingest_paths(hashing_kb, [path]).files[0]
    assert fixed.diff is not None and fixed.diff.removed == ["row=3"]


def test_dry_run_changes_nothing(hashing_kb: KnowledgeBase, tmp_path: Path):
    write_csv(tmp_path / "faq.csv", FAQ)
    report = ingest_paths(hashing_kb, [tmp_path / "faq.csv"], IngestOptions(dry_run=True))
    assert report.files[0].diff is not None and len(report.files[0].diff.added) == 2
    assert hashing_kb.catalog.count() == 0 and hashing_kb.catalog.sources() == []


def _encrypted_pdf(path: Path) -> None:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Warranty terms")
    plain = path.with_suffix(".plain.pdf")
    pdf.output(str(plain))
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="s3cret", owner_password="owner")
    writer.write(path)
    plain.unlink()


def _image_only_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 60, style="F")
    pdf.output(str(path))


def _headerless_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    for _ in range(3):
        wb.active.append([None, 12.5, None])
    wb.save(path)


def _fifty_mb(path: Path) -> None:
    with path.open("wb") as fh:
        fh.write("問題,答案\n".encode())
        fh.truncate(50 * 1024 * 1024)


BAD_FILES = {
    "corrupt.pdf": lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj garbage"),
    "locked.pdf": _encrypted_pdf,
    "scan.pdf": _image_only_pdf,
    "empty.xlsx": lambda p: p.write_bytes(b""),
    "numbers.xlsx": _headerless_xlsx,
    "old.xls": lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0 old excel"),
    "slides.pptx": lambda p: p.write_bytes(b"PK\x03\x04"),
    "huge.csv": _fifty_mb,
}


def test_every_bad_file_gets_a_clear_error_and_nothing_is_lost(
    hashing_kb: KnowledgeBase, tmp_path: Path
):
    folder = tmp_path / "kb"
    folder.mkdir()
    write_csv(folder / "faq.csv", FAQ)
    ingest_paths(hashing_kb, [folder])
    for name, make in BAD_FILES.items():
        make(folder / name)
    report = ingest_paths(hashing_kb, [folder])  # default limits: 20 MB per file
    errors = {f.source: f.error or "" for f in report.failed}
    assert set(errors) == set(BAD_FILES)
    for name, error in errors.items():
        assert error.startswith(name), error
        assert len(error) > len(name) + 20, f"too terse: {error}"
    assert "50.0 MB" in errors["huge.csv"] or "50 MB" in errors["huge.csv"], errors["huge.csv"]
    assert ".xlsx" in errors["old.xls"]
    assert hashing_kb.catalog.count() == 2
    assert {s.name: s.status for s in hashing_kb.catalog.sources()}["faq.csv"] == "ok"
