"""The row model shared by XLSX and CSV: find the header row, then one data row = one FAQ item.

A grid is one sheet as rows of cell strings. The header is the first row (of the first ten
non-empty ones) that looks like column names; title rows and blank rows above it are skipped.
Question and answer columns are recognised by their Chinese or English names; every row becomes
an `Item` whose text keeps each header next to its value ("問題: …\\n答案: …\\n分類: …"), so
the answer is never separated from its question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingest.language import HAN
from ingest.model import Item, LoadError, LoadResult, Problem
from ingest.plain_text import is_blank, strip_controls

QUESTION_NAMES = ("問題", "題目", "提問", "常見問題", "q", "question", "faq")
ANSWER_NAMES = ("答案", "回答", "說明", "解答", "內容", "a", "answer")
HEADER_SCAN_ROWS = 10

# A header that merely contains a question/answer word but names something else.
_NOT_QA_ZH = ("分類", "類別", "類型", "編號", "代碼", "日期", "序號")
_NOT_QA_EN = re.compile(r"\b(category|type|id|no|number|date|class)\b")
_EDGE_PUNCT = ":：.。、()（）[]【】<>《》\"'「」*#"
_NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+%?")
_DATE = re.compile(r"\d{2,4}[-/.年]\d{1,2}([-/.月]\d{1,2}日?)?( .*)?")
_URL = re.compile(r"(https?://|www\.)", re.IGNORECASE)
_SENTENCE_END = "。？！?!"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: how Excel (and a CSV opened in it) names a column."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", header).casefold().strip(_EDGE_PUNCT)


def _exact_role(header: str, names: Sequence[str]) -> bool:
    return _norm(header) in names


def _contains_role(header: str, names: Sequence[str]) -> bool:
    norm = _norm(header)
    if not norm or any(word in norm for word in _NOT_QA_ZH):
        return False
    if _NOT_QA_EN.search(header.casefold()):
        return False
    return any(len(name) >= 2 and name in norm for name in names)


def find_qa_columns(headers: Sequence[str]) -> tuple[int | None, int | None]:
    """Indexes of the question and answer columns; exact names win over names that contain them."""

    def first(
        test: Callable[[str, Sequence[str]], bool], names: Sequence[str], taken: int | None
    ) -> int | None:
        return next((i for i, h in enumerate(headers) if h and i != taken and test(h, names)), None)

    question = first(_exact_role, QUESTION_NAMES, None)
    answer = first(_exact_role, ANSWER_NAMES, question)
    if question is None:
        question = first(_contains_role, QUESTION_NAMES, answer)
    if answer is None:
        answer = first(_contains_role, ANSWER_NAMES, question)
    return question, answer


def _is_qa_name(cell: str) -> bool:
    return _exact_role(cell, QUESTION_NAMES) or _exact_role(cell, ANSWER_NAMES)


def _is_label(cell: str) -> bool:
    """Could this cell be a column name? Short text, not a number, date, link or sentence."""
    if _is_qa_name(cell):
        return True
    if "\n" in cell or len(cell) > 40:
        return False
    if _NUMBER.fullmatch(cell) or _DATE.fullmatch(cell) or _URL.match(cell) or "@" in cell:
        return False
    return cell[-1] not in _SENTENCE_END


def _width(row: Sequence[str]) -> int:
    return max((i + 1 for i, c in enumerate(row) if c), default=0)


def _looks_like_header(row: Sequence[str], table_width: int) -> bool:
    cells = [c for c in row if c]
    if len(cells) == 1:
        # A one-column FAQ list is fine; a lone title cell is not.
        return table_width == 1 and _is_qa_name(cells[0])
    if len(set(cells)) < 2:
        return False  # a title merged across several columns repeats one value
    if len(cells) < 0.5 * table_width:
        return False
    return sum(_is_label(c) for c in cells) >= 0.8 * len(cells)


def find_header_row(grid: Sequence[Sequence[str]]) -> int | None:
    """Index into `grid` of the header row, or None when no row looks like one."""
    nonempty = [i for i, row in enumerate(grid) if any(row)]
    candidates: list[int] = []
    for pos, i in enumerate(nonempty[:HEADER_SCAN_ROWS]):
        following = nonempty[pos + 1 : pos + 21]
        if not following:
            # Nothing below it: a header with no data still counts, so the message can say so.
            if not candidates and _looks_like_header(grid[i], _width(grid[i])):
                candidates.append(i)
            break
        table_width = max(_width(grid[j]) for j in [i, *following])
        if _looks_like_header(grid[i], table_width):
            candidates.append(i)
    if not candidates:
        return None

    # A row naming its question and answer columns beats a two-cell title row above it
    # ("本公司 FAQ | 更新日期"); exact names count more than names that merely contain one.
    def strength(i: int) -> int:
        found = [c for c in find_qa_columns(grid[i]) if c is not None]
        return sum(2 if _is_qa_name(grid[i][c]) else 1 for c in found)

    return max(candidates, key=lambda i: (strength(i), -i))


def _labels(
    header: Sequence[str], width: int, column_numbers: Sequence[int] | None = None
) -> list[str]:
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i in range(width):
        raw = re.sub(r"\s+", " ", header[i]).strip() if i < len(header) else ""
        number = column_numbers[i] - 1 if column_numbers and i < len(column_numbers) else i
        label = raw or f"column {column_letter(number)}"
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return labels


def _clean(cell: str) -> str:
    # the file's fault, not the reader's: control characters (a NUL too) go, the text stays
    cell = strip_controls(cell)
    return "" if is_blank(cell) else cell.strip()


def _quote(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


_WORDY = re.compile(f"[{HAN}]|[A-Za-z]{{3}}")


def _title_cell(cells: Sequence[str]) -> str:
    """What names a row of a table without a question column: its first cell with words in it.

    Codes and numbers ("100Q1", "0501010019") come first in many exports; a name is more use.
    """
    return next((c for c in cells if _WORDY.search(c)), next(c for c in cells if c))


@dataclass
class SheetRows:
    """What one sheet (or one CSV file) gave: items, problems, and where its header was."""

    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    header_row: int | None = None  # 1-based number of the header row, None when not found
    empty: bool = False


def read_rows(
    grid: Sequence[Sequence[str]],
    *,
    source: str,
    sheet: str | None = None,
    row_numbers: Sequence[int] | None = None,
    column_numbers: Sequence[int] | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> SheetRows:
    """Turn one sheet's grid into FAQ items.

    `sheet` is None for CSV (locators are then "row=N"); `row_numbers` gives the number the user
    sees for each grid row (the CSV line a record starts on), by default its 1-based position;
    `column_numbers` does the same for columns (a sheet read as its real extent skips empty ones).
    """
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(grid) + 1))
    rows = [[_clean(c) for c in row] for row in grid]
    place = f"sheet '{sheet}'" if sheet is not None else "the file"
    sheet_where = f"sheet {sheet}" if sheet is not None else ""

    def where(number: int) -> str:
        return f"sheet {sheet} row {number}" if sheet is not None else f"row {number}"

    def locator(number: int) -> str:
        return f"sheet={sheet};row={number}" if sheet is not None else f"row={number}"

    out = SheetRows()
    if not any(any(row) for row in rows):
        out.empty = True
        return out

    header_index = find_header_row(rows)
    if header_index is None:
        out.problems.append(
            Problem(
                source,
                sheet_where,
                f"no header row found in the first {HEADER_SCAN_ROWS} rows of {place}, so "
                "nothing was read from it; add a header row such as 問題 | 答案 "
                "(Question | Answer) above the data",
            )
        )
        return out
    out.header_row = numbers[header_index]

    header = rows[header_index]
    body = list(zip(numbers[header_index + 1 :], rows[header_index + 1 :], strict=True))
    width = max([_width(header)] + [_width(row) for _, row in body])
    labels = _labels(header, width, column_numbers)
    q_col, a_col = find_qa_columns([header[i] if i < len(header) else "" for i in range(width)])
    order = [c for c in (q_col, a_col) if c is not None]
    order += [i for i in range(width) if i not in order]

    if q_col is None and a_col is None:
        shown = ", ".join(_quote(label, 20) for label in labels[:8])
        more = ", …" if len(labels) > 8 else ""
        out.problems.append(
            Problem(
                source,
                sheet_where,
                f"no question/answer columns recognised in {place} (columns: {shown}{more}); "
                "each row was indexed as one record with all its columns. To answer FAQs from "
                "it, name the columns 問題 and 答案 (or Question and Answer)",
            )
        )

    header_key = tuple((list(header) + [""] * width)[:width])
    first_seen: dict[tuple[str, ...], int] = {}
    for number, row in body:
        cells = (list(row) + [""] * width)[:width]
        if not any(cells):
            continue
        key = tuple(cells)
        if key == header_key:
            continue  # the header repeated further down (files pasted together)
        if key in first_seen:
            kept = first_seen[key]
            out.problems.append(
                Problem(
                    source,
                    where(number),
                    f"row {number} is an exact duplicate of row {kept}; only row {kept} was "
                    "kept — delete one of them",
                )
            )
            continue
        first_seen[key] = number

        question = cells[q_col] if q_col is not None else _title_cell(cells)
        answer = cells[a_col] if a_col is not None else ""
        if q_col is not None and a_col is not None and cells[q_col] and not answer:
            out.problems.append(
                Problem(
                    source,
                    where(number),
                    f"the question '{_quote(question)}' has no answer; fill in the "
                    f"'{labels[a_col]}' column or delete the row",
                )
            )
        if q_col is not None and not cells[q_col]:
            out.problems.append(
                Problem(
                    source,
                    where(number),
                    f"this row has no question; fill in the '{labels[q_col]}' column so the "
                    "row can be matched to what customers ask",
                )
            )

        text = "\n".join(f"{labels[i]}: {cells[i]}" for i in order if cells[i])
        metadata: dict[str, str | int] = {}
        if sheet is not None:
            metadata["sheet"] = sheet
        metadata["row"] = number
        metadata["question"] = question
        if answer:
            metadata["answer"] = answer
        for i in order:
            if i not in (q_col, a_col) and cells[i]:
                metadata[f"field.{labels[i]}"] = cells[i]
        if extra_metadata:
            metadata.update(extra_metadata)
        out.items.append(Item(text, locator(number), metadata, is_faq=True))

    if not out.items:
        out.problems.append(
            Problem(
                source,
                sheet_where,
                f"{place} has a header row (row {out.header_row}) but no data rows below it; "
                "add the questions and answers under the header",
            )
        )
    return out


def rows_result(source: str, sheets: Sequence[SheetRows]) -> LoadResult:
    """Combine the sheets of one file; raise LoadError when none of them gave a single item."""
    items = [item for s in sheets for item in s.items]
    problems = [p for s in sheets for p in s.problems]
    if items:
        return LoadResult(source, items, problems)
    used = [s for s in sheets if not s.empty]
    if not used:
        raise LoadError(
            source, "the file has no data (every sheet is empty); fill it in and upload it again"
        )
    if all(s.header_row is None for s in used):
        raise LoadError(
            source,
            f"no header row found (looked at the first {HEADER_SCAN_ROWS} rows"
            + (" of every sheet" if len(used) > 1 else "")
            + "); add a header row such as 問題 | 答案 (Question | Answer) above the data",
        )
    raise LoadError(
        source,
        "no usable rows: "
        + "; ".join(p.reason for p in problems[:3])
        + ("; …" if len(problems) > 3 else ""),
    )
