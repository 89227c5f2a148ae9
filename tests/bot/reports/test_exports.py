"""Exported cells: no formulas, nothing an XLSX cell cannot hold."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from bot.reports.exports import MAX_CELL_CHARS, csv_export, spreadsheet_cell, spreadsheet_row


@pytest.mark.parametrize(
    ("value", "exported"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\n=1"),
        ("\x07=1", "'=1"),  # a control character hid the formula
        ("量子\x1b[31m", "量子[31m"),
        ("退貨要怎麼申請？", "退貨要怎麼申請？"),
        (-3, -3),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_a_cell(value: object, exported: object) -> None:
    assert spreadsheet_cell(value) == exported


def test_an_xlsx_takes_every_exported_cell() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(spreadsheet_row(["\x00\x01\x1b=WEBSERVICE(1)", "x" * (MAX_CELL_CHARS + 10)]))
    out = io.BytesIO()
    book.save(out)
    [row] = load_workbook(out).active.iter_rows()  # type: ignore[union-attr]
    assert row[0].data_type == "s" and row[0].value == "'=WEBSERVICE(1)"
    assert len(str(row[1].value)) == MAX_CELL_CHARS


def test_csv() -> None:
    text = csv_export(["metric", "value"], [["=1+1", 2]])
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [["metric", "value"], ["'=1+1", "2"]]
