"""Cells of the files admins download to open in a spreadsheet (metrics.csv, metrics.xlsx,
unanswered.xlsx): every exported value goes through `spreadsheet_cell`.

Customers' words end up in these cells, and a spreadsheet runs a cell that starts with "=" as
a formula (=HYPERLINK(…), =WEBSERVICE(…)); "+", "-" and "@" start one too, and a leading tab or
carriage return hides one. Such a cell gets a single quote in front, as OWASP's CSV injection
guidance recommends: Excel and LibreOffice then show the text as it was typed. Characters
an XLSX cell cannot hold (control characters; openpyxl raises IllegalCharacterError) are
removed, and text beyond Excel's 32,767 characters a cell is cut. Personal numbers (phones,
e-mail addresses, and cards or ids in logs older than redaction) are masked, except in the
audience list, whose purpose is the contact details of customers who consented (`mask=False`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from bot.privacy.redaction import mask_personal
from ingest.plain_text import strip_controls

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell


def spreadsheet_cell(value: Any, *, mask: bool = True) -> Any:
    """A value as it may go into an exported cell: numbers, dates and None as they are; text
    without control characters, personal numbers masked (unless `mask` is False) and formulas
    neutralised."""
    if not isinstance(value, str):
        return value
    if mask:
        value = mask_personal(value)
    neutralise = value.startswith(FORMULA_STARTS)
    value = strip_controls(value)
    neutralise = neutralise or value.startswith(FORMULA_STARTS)
    if neutralise:
        value = "'" + value
    return value[:MAX_CELL_CHARS]


def spreadsheet_row(values: Iterable[Any], *, mask: bool = True) -> list[Any]:
    return [spreadsheet_cell(v, mask=mask) for v in values]


def csv_export(header: Sequence[str], rows: Iterable[Sequence[Any]], *, mask: bool = True) -> str:
    """A CSV file for Excel: a BOM (so that it reads the Chinese as UTF-8), then the rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(spreadsheet_row(header))
    writer.writerows(spreadsheet_row(row, mask=mask) for row in rows)
    return "\ufeff" + out.getvalue()
