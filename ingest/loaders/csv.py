"""CSV and TSV files: detect the encoding and the delimiter, then the same row model as Excel.

Each item's metadata carries the detected `encoding` and `delimiter`, so the ingest report can
show how the file was read. Example::

    result = load(Path("faq.csv"), "faq.csv")
    result.items[0].locator              # "row=2" (the line the record starts on)
    result.items[0].metadata["encoding"]  # "cp950"
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from ingest.loaders.encoding import decode_bytes
from ingest.model import LoadError, LoadResult
from ingest.rows import read_rows, rows_result

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_LINES = 50
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _consistency(sample: str, delimiter: str) -> float:
    """How well `delimiter` splits the sample into rows of one width (0 when it does not split)."""
    try:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    except csv.Error:
        return 0.0
    if len(rows) > 1:
        rows = rows[:-1]  # the sample may cut the last record in half
    if not rows:
        return 0.0
    width, count = Counter(len(r) for r in rows).most_common(1)[0]
    if width < 2:
        return 0.0
    return count / len(rows) + min(width, 50) / 1000  # ties go to the delimiter giving more columns


def sniff_delimiter(text: str, *, default: str = ",") -> str:
    """csv.Sniffer's choice when it splits the sample consistently, else the most consistent one."""
    sample = "\n".join(text[:65536].splitlines()[:_SAMPLE_LINES])
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: _consistency(sample, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])  # max() keeps the first of equal scores
    if sniffed in scores and scores[sniffed] >= 0.9 * scores[best] and scores[sniffed] > 0:
        return sniffed
    return best if scores[best] > 0 else default


def _records(text: str, delimiter: str, source: str) -> tuple[list[list[str]], list[int]]:
    """Rows of cells, and the line each record starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    starts: list[int] = []
    previous_end = 0
    try:
        for row in reader:
            rows.append(row)
            starts.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as exc:
        raise LoadError(
            source,
            f"the file is not valid CSV near line {reader.line_num} ({exc}); open it in a "
            "spreadsheet program, check that line, save as CSV UTF-8 and upload it again",
        ) from exc
    return rows, starts


def load(path: Path, source: str) -> LoadResult:
    decoded = decode_bytes(path.read_bytes(), source)
    text = decoded.text.lstrip("\ufeff")
    if not text.strip():
        raise LoadError(source, "the file is empty (it holds only blank space); export it again")
    default = "\t" if path.suffix.lower() == ".tsv" else ","
    delimiter = sniff_delimiter(text, default=default)
    rows, starts = _records(text, delimiter, source)
    sheet = read_rows(
        rows,
        source=source,
        row_numbers=starts,
        extra_metadata={"encoding": decoded.encoding, "delimiter": delimiter},
    )
    return rows_result(source, [sheet])


def delimiter_name(delimiter: str) -> str:
    """ "comma", "tab"…: how a report should show a delimiter."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))
