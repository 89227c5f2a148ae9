"""Small files made on the spot: workbooks, CSVs and PDFs written into tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@pytest.fixture
def make_xlsx(tmp_path: Path) -> Callable[..., Path]:
    """make_xlsx({"sheet": [[row], …]}, merges={"sheet": ["A1:C1"]}) → path of a new workbook."""
    import openpyxl

    def make(
        sheets: dict[str, Sequence[Sequence[Any]]],
        *,
        merges: dict[str, list[str]] | None = None,
        name: str = "faq.xlsx",
    ) -> Path:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in sheets.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(list(row))
            for rng in (merges or {}).get(title, []):
                ws.merge_cells(rng)
        path = tmp_path / name
        wb.save(path)
        return path

    return make


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """make_pdf(["page one text", None, …]) → a PDF; None makes a page with only a rectangle."""
    from fpdf import FPDF

    def make(
        pages: Sequence[str | None],
        *,
        name: str = "manual.pdf",
        title: str | None = None,
        font: Path | None = None,
    ) -> Path:
        pdf = FPDF()
        if title:
            pdf.set_title(title)
        if font is not None:
            pdf.add_font("cjk", fname=str(font))
        for text in pages:
            pdf.add_page()
            if text is None:
                pdf.rect(20, 20, 80, 60, style="F")
                continue
            if font is not None:
                pdf.set_font("cjk", size=12)
            else:
                pdf.set_font("Helvetica", size=12)
            pdf.multi_cell(0, 8, text)
        path = tmp_path / name
        pdf.output(str(path))
        return path

    return make
