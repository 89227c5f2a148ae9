"""Excel workbooks (.xlsx, .xlsm): every non-empty sheet through the row model, one row = one item.

Example::

    result = load(Path("faq.xlsx"), "faq.xlsx")
    result.items[0].locator   # "sheet=退貨;row=3"
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import xml.parsers.expat
import zipfile
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

import openpyxl
from openpyxl.cell.read_only import ReadOnlyCell
from openpyxl.utils import coordinate_to_tuple, get_column_letter
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import (
    CELL_TAG,
    FORMULA_TAG,
    MERGE_TAG,
    ROW_TAG,
    VALUE_TAG,
    WorkSheetParser,
)
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.merge import MergeCells
from openpyxl.xml.constants import SHEET_MAIN_NS

from ingest.model import LoadBudgets, LoadError, LoadResult, Problem
from ingest.rows import SheetRows, read_rows, rows_result

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DATA_TAG = f"{{{SHEET_MAIN_NS}}}sheetData"
_SHARED_STRINGS = re.compile(r"(^|/)sharedstrings[^/]*\.xml$", re.IGNORECASE)
_RESAVE = "open it in Excel, save it again as .xlsx (Excel Workbook) and upload it again"


def _check_container(path: Path, source: str) -> None:
    """An .xlsx is a zip; say plainly what it is instead when it is not."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK"):
        return
    if head.startswith(_OLE2_MAGIC):
        data = path.read_bytes()
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise LoadError(
                source,
                "the workbook is password-protected, so it cannot be read; remove the password "
                "(Excel: File > Info > Protect Workbook > Encrypt with Password, clear it), save "
                "and upload it again",
            )
        raise LoadError(
            source,
            "this is an old Excel 97-2003 workbook (.xls format) with an .xlsx name; " + _RESAVE,
        )
    if b"\x00" not in head and head.strip():
        raise LoadError(
            source,
            "this is a text file (perhaps a CSV or a web page) with an Excel name, not a real "
            "workbook; rename it to .csv, or " + _RESAVE,
        )
    raise LoadError(source, "this is not a valid Excel workbook (not a zip file); " + _RESAVE)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MB"


def _check_archive(path: Path, source: str, budgets: LoadBudgets) -> None:
    """Refuse a zip bomb and an oversized shared-strings table before openpyxl reads them.

    Sizes come from the zip's directory; zipfile never inflates a part past its stated size (it
    fails the CRC instead), so a part cannot lie its way past the budget.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            unzipped = sum(p.file_size for p in parts)
            if unzipped > budgets.max_unzipped_bytes:
                raise LoadError(
                    source,
                    f"the workbook unzips to {_mb(unzipped)}, more than the "
                    f"{_mb(budgets.max_unzipped_bytes)} limit (KEFU_INGEST__MAX_UNZIPPED_MB); "
                    "remove pictures and unused sheets or split it into smaller workbooks, "
                    "and upload it again",
                )
            for part in parts:
                if _SHARED_STRINGS.search(part.filename):
                    with archive.open(part) as fh:
                        _scan_shared_strings(fh, source, budgets)
    except zipfile.BadZipFile as exc:
        raise LoadError(
            source, f"the workbook is damaged or incomplete ({exc}); " + _RESAVE
        ) from exc


def _scan_shared_strings(fh: IO[bytes], source: str, budgets: LoadBudgets) -> None:
    """Count the shared strings and their lengths as the XML streams by, keeping none."""
    count = 0
    chars = 0
    inside_text = 0

    def start(name: str, _attrs: dict[str, str]) -> None:
        nonlocal count, chars, inside_text
        local = name.rsplit(":", 1)[-1]
        if local == "si":
            count, chars = count + 1, 0
            if count > budgets.max_cells:
                raise LoadError(
                    source,
                    f"the workbook holds more than {budgets.max_cells:,} different texts (the "
                    "limit KEFU_INGEST__MAX_CELLS); split it into smaller workbooks",
                )
        elif local == "t":
            inside_text += 1

    def end(name: str) -> None:
        nonlocal inside_text
        if name.rsplit(":", 1)[-1] == "t":
            inside_text -= 1

    def data(text: str) -> None:
        nonlocal chars
        if inside_text:
            chars += len(text)
            if chars > budgets.max_cell_chars:
                raise LoadError(
                    source,
                    f"text number {count} of the workbook's shared strings is longer than the "
                    f"{budgets.max_cell_chars:,} characters allowed in one cell "
                    "(KEFU_INGEST__MAX_CELL_CHARS); shorten that cell (or split it over "
                    "several rows) and upload the file again",
                )

    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        for block in iter(lambda: fh.read(1 << 16), b""):
            parser.Parse(block, False)
        parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise LoadError(
            source, f"the workbook's text table is damaged ({exc}); " + _RESAVE
        ) from exc


def render_cell(value: Any, number_format: str = "General") -> str:
    """A cell value as a person reads it: dates as YYYY-MM-DD, 3.0 as 3, 0.15 in a % cell as 15%."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, (int, float)):
        if "%" in (number_format or ""):
            return f"{value * 100:.10g}%"
        if isinstance(value, float):
            if value.is_integer() and abs(value) < 1e15:
                return str(int(value))
            return f"{value:.15g}"
        return str(value)
    return str(value)


@dataclass
class _Sheet:
    """One sheet as read: its values by (row, column), merged ranges, uncalculated formulas."""

    values: dict[tuple[int, int], str] = field(default_factory=dict)
    merges: list[CellRange] = field(default_factory=list)
    formulas: dict[int, tuple[int, str]] = field(default_factory=dict)  # row → (column, formula)


class _Budget:
    """Counts a workbook's cells as they are read and refuses the file at the limit."""

    def __init__(self, source: str, budgets: LoadBudgets) -> None:
        self.source = source
        self.limits = budgets
        self.cells = 0

    def count(self, sheet: str, ref: str, n: int = 1) -> None:
        self.cells += n
        if self.cells > self.limits.max_cells:
            raise LoadError(
                self.source,
                f"the workbook holds more than {self.limits.max_cells:,} cells with values "
                f"(the limit KEFU_INGEST__MAX_CELLS; reached at sheet '{sheet}' {ref}); split "
                "it into smaller workbooks and upload them one by one",
            )

    def text(self, sheet: str, ref: str, text: str) -> None:
        if len(text) > self.limits.max_cell_chars:
            raise LoadError(
                self.source,
                f"cell {ref} of sheet '{sheet}' holds {len(text):,} characters, more than the "
                f"{self.limits.max_cell_chars:,} allowed in one cell "
                "(KEFU_INGEST__MAX_CELL_CHARS); shorten it (or split it over several rows) "
                "and upload the file again",
            )


class _CellParser(WorkSheetParser):
    """openpyxl's cell parser, also telling a formula that was never calculated (no <v>)."""

    def parse_cell(self, element: Element) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        if element.find(FORMULA_TAG) is not None and element.find(VALUE_TAG) is None:
            cell["formula"] = element.findtext(FORMULA_TAG) or ""
        return cell


def _read_sheet(ws: ReadOnlyWorksheet, budget: _Budget) -> _Sheet:
    """Stream one sheet's XML: only cells stored in the file are visited, never the empty
    rows and columns up to its declared dimension, and each row is dropped once read."""
    workbook = ws.parent
    sheet = _Sheet()
    with ws._get_source() as src:
        parser = _CellParser(
            src,
            ws._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        sheet_data: Element | None = None
        for event, element in iterparse(src, events=("start", "end")):
            if event == "start":
                if element.tag == _DATA_TAG:
                    sheet_data = element
                continue
            if element.tag == ROW_TAG:
                _read_row(parser, element, ws, sheet, budget)
                if sheet_data is not None:
                    sheet_data.clear()  # what was read is not kept (element.clear() keeps rows)
            elif element.tag == MERGE_TAG:
                for merge in MergeCells.from_tree(element).mergeCell:
                    budget.count(ws.title, merge.ref)
                    sheet.merges.append(CellRange(merge.ref))
                element.clear()
    return sheet


def _read_row(
    parser: _CellParser, element: Element, ws: ReadOnlyWorksheet, sheet: _Sheet, budget: _Budget
) -> None:
    number = element.get("r")
    parser.row_counter = int(float(number)) if number else parser.row_counter + 1
    parser.col_counter = 0
    for c in element:
        if c.tag != CELL_TAG:
            continue
        if not len(c):  # no value, no formula: a cell that holds only formatting
            parser.col_counter = (
                coordinate_to_tuple(c.get("r"))[1] if c.get("r") else parser.col_counter + 1
            )
            continue
        cell = parser.parse_cell(c)
        row, column = cell["row"], cell["column"]
        ref = f"{get_column_letter(column)}{row}"
        if "formula" in cell:
            sheet.formulas.setdefault(row, (column, cell["formula"]))
            continue
        if cell["value"] is None:
            continue
        number_format = ReadOnlyCell(
            ws, row, column, cell["value"], cell["data_type"], cell["style_id"]
        ).number_format
        text = render_cell(cell["value"], number_format).strip()
        if not text:
            continue
        budget.text(ws.title, ref, text)
        budget.count(ws.title, ref)
        sheet.values[(row, column)] = text


def _grid(
    sheet: _Sheet, title: str, budget: _Budget
) -> tuple[list[list[str]], list[int], list[int]]:
    """The sheet's real extent as a grid: only rows and columns holding values of their own,
    merged areas filled with their top-left value, and the numbers of those rows and columns.

    A row whose only content is a copy from a merged cell above is not a row of its own.
    """
    values = sheet.values
    rows = sorted({r for r, _ in values})
    if not rows:
        return [], [], []
    columns = sorted({c for _, c in values})
    if len(rows) * len(columns) > budget.limits.max_cells:
        raise LoadError(
            budget.source,
            f"sheet '{title}' spreads its values over {len(rows):,} rows and {len(columns):,} "
            f"columns, a table of more than {budget.limits.max_cells:,} cells "
            "(KEFU_INGEST__MAX_CELLS); keep one table per sheet, without values scattered far "
            "from it, or split it into smaller workbooks",
        )
    for rng in sheet.merges:
        top = values.get((rng.min_row, rng.min_col))
        if top is None:
            continue
        inside_rows = rows[bisect_left(rows, rng.min_row) : bisect_right(rows, rng.max_row)]
        inside_cols = columns[
            bisect_left(columns, rng.min_col) : bisect_right(columns, rng.max_col)
        ]
        budget.count(title, rng.coord, len(inside_rows) * len(inside_cols))
        for r in inside_rows:
            for c in inside_cols:
                values.setdefault((r, c), top)
    grid = [[values.get((r, c), "") for c in columns] for r in rows]
    return grid, rows, columns


def _formula_problems(source: str, title: str, sheet: _Sheet) -> list[Problem]:
    problems = []
    for row, (column, formula) in sorted(sheet.formulas.items()):
        ref = f"{get_column_letter(column)}{row}"
        shown = f"formula ={formula}" if formula else "a formula"
        problems.append(
            Problem(
                source,
                f"sheet {title} cell {ref}",
                f"cell {ref} holds {shown} whose value was never calculated (the file was "
                f"written by a program, not saved by a spreadsheet), so row {row} was left out; "
                "open the file in Excel or LibreOffice, save it and upload it again",
            )
        )
    return problems


def load(path: Path, source: str, budgets: LoadBudgets | None = None) -> LoadResult:
    budgets = budgets or LoadBudgets()
    _check_container(path, source)
    _check_archive(path, source, budgets)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about every extension it drops (data validation, slicers…).
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise LoadError(
            source,
            f"the workbook is damaged or incomplete and could not be opened ({type(exc).__name__}: "
            f"{exc}); " + _RESAVE,
        ) from exc

    budget = _Budget(source, budgets)
    sheets: list[SheetRows] = []
    try:
        for ws in workbook.worksheets:
            if not isinstance(ws, ReadOnlyWorksheet):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # dates out of range become errors
                    sheet = _read_sheet(ws, budget)
            except LoadError:
                raise
            except Exception as exc:
                raise LoadError(
                    source,
                    f"sheet '{ws.title}' could not be read ({type(exc).__name__}: {exc}); "
                    + _RESAVE,
                ) from exc
            # A row with a formula that was never calculated is left out whole: its empty
            # answer would make the bot answer with the question itself.
            for row in sheet.formulas:
                for key in [k for k in sheet.values if k[0] == row]:
                    del sheet.values[key]
            grid, row_numbers, column_numbers = _grid(sheet, ws.title, budget)
            rows = read_rows(
                grid,
                source=source,
                sheet=ws.title,
                row_numbers=row_numbers,
                column_numbers=column_numbers,
            )
            rows.problems[:0] = _formula_problems(source, ws.title, sheet)
            sheets.append(rows)
    finally:
        workbook.close()
    return rows_result(source, sheets)
