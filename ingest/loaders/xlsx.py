"""Excel workbooks (.xlsx, .xlsm): every non-empty sheet through the row model, one row = one item.

Example::

    result = load(Path("faq.xlsx"), "faq.xlsx")
    result.items[0].locator   # "sheet=退貨;row=3"
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from ingest.model import LoadError, LoadResult
from ingest.rows import SheetRows, read_rows, rows_result

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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


def _sheet_grid(ws: Worksheet) -> tuple[list[list[str]], set[int]]:
    """The sheet as rows of strings from A1, merged areas filled with their top-left value.

    Also returns the row numbers holding at least one value of their own: a row whose only
    content is a copy from a merged cell above is not a row of its own.
    """
    values: dict[tuple[int, int], str] = {}
    # ws._cells holds only the cells stored in the file; iter_rows() would create every cell
    # up to max_row, which formatting alone can push to a million rows.
    stored = getattr(ws, "_cells", None)
    if isinstance(stored, dict):
        cells = list(stored.values())
    else:
        cells = [c for row in ws.iter_rows() for c in row]
    for cell in cells:
        text = render_cell(cell.value, cell.number_format).strip()
        if text:
            values[(cell.row, cell.column)] = text
    own_rows = {r for r, _ in values}
    if not values:
        return [], own_rows
    last_row = max(own_rows)
    for rng in ws.merged_cells.ranges:
        top = values.get((rng.min_row, rng.min_col))
        if top is None:
            continue
        for r in range(rng.min_row, min(rng.max_row, last_row) + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                values.setdefault((r, c), top)
    width = max(c for _, c in values)
    grid = [[""] * width for _ in range(last_row)]
    for (r, c), text in values.items():
        if r <= last_row:
            grid[r - 1][c - 1] = text
    return grid, own_rows


def load(path: Path, source: str) -> LoadResult:
    _check_container(path, source)
    try:
        with warnings.catch_warnings():
            # openpyxl warns about every extension it drops (data validation, slicers…).
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:
        raise LoadError(
            source,
            f"the workbook is damaged or incomplete and could not be opened ({type(exc).__name__}: "
            f"{exc}); " + _RESAVE,
        ) from exc

    sheets: list[SheetRows] = []
    try:
        for ws in workbook.worksheets:
            if not isinstance(ws, Worksheet):
                continue
            try:
                grid, own_rows = _sheet_grid(ws)
            except Exception as exc:
                raise LoadError(
                    source,
                    f"sheet '{ws.title}' could not be read ({type(exc).__name__}: {exc}); "
                    + _RESAVE,
                ) from exc
            for number in range(1, len(grid) + 1):
                if number not in own_rows:
                    grid[number - 1] = [""] * len(grid[number - 1])
            sheets.append(read_rows(grid, source=source, sheet=ws.title))
    finally:
        workbook.close()
    return rows_result(source, sheets)
