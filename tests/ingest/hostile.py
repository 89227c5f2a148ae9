"""Hostile knowledge files, written on the spot (never committed): bombs, far cells, formulas.

Workbooks are assembled as raw zip parts, so a 100-million-character string or three million
empty cells cost a few megabytes of streamed writing, not a spreadsheet library's memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    "{shared}"
    "</Types>"
)
_SHARED_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="FAQ" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    "{shared}</Relationships>"
)
_SHARED_REL = (
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/>'
)
# Two cell formats: 0 plain, 1 a fill only (what "formatting a whole column" leaves behind).
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFFFF00"/></patternFill></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/></cellXfs>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="{dimension}"/><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def column(n: int) -> str:
    """1 → A, 100 → CV, 16384 → XFD."""
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def row(number: int, cells: Iterable[str]) -> str:
    return f'<row r="{number}">{"".join(cells)}</row>'


def write_workbook(
    path: Path,
    rows: Iterable[str],
    *,
    shared_strings: Iterable[str] | None = None,
    dimension: str = "A1",
) -> Path:
    """A one-sheet workbook ("FAQ") whose sheetData is `rows` (XML strings, streamed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        shared = shared_strings is not None
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(shared=_SHARED_TYPE * shared))
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr(
            "xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(shared=_SHARED_REL * shared)
        )
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(_SHEET_HEAD.format(dimension=dimension).encode())
            batch: list[str] = []
            for r in rows:
                batch.append(r)
                if len(batch) >= 1000:
                    out.write("".join(batch).encode())
                    batch.clear()
            out.write("".join(batch).encode())
            out.write(_SHEET_TAIL.encode())
        if shared_strings is not None:
            with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
                out.write(
                    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                )
                for s in shared_strings:
                    out.write(b"<si><t>")
                    out.write(escape(s).encode())
                    out.write(b"</t></si>")
                out.write(b"</sst>")
    return path


HEADER = row(1, [text_cell("A1", "問題"), text_cell("B1", "答案")])
FAQ_ROW = row(
    2, [text_cell("A2", "退貨要怎麼申請？"), text_cell("B2", "到貨七天內在會員中心申請。")]
)


def huge_shared_string(path: Path, chars: int = 100_000_000) -> Path:
    """The reported bomb: a few hundred KB holding one shared string of `chars` characters."""

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(shared=_SHARED_TYPE))
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(shared=_SHARED_REL))
        zf.writestr("xl/styles.xml", _STYLES)
        zf.writestr(
            "xl/worksheets/sheet1.xml",
            _SHEET_HEAD.format(dimension="A1:B2")
            + '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            + '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
            + _SHEET_TAIL,
        )
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            out.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + "".join(
                    f"<si><t>{s}</t></si>" for s in ["問題", "答案", "退貨要怎麼申請？"]
                ).encode()
                + b"<si><t>"
            )
            block = b"x" * 1_000_000
            for _ in range(chars // len(block)):
                out.write(block)
            out.write(b"</t></si></sst>")
    return path


def far_cell(path: Path, ref: str) -> Path:
    """A header and one FAQ row, then a single value at `ref` (CV1000000, XFD1048576)."""
    number = int("".join(ch for ch in ref if ch.isdigit()))
    return write_workbook(
        path, [HEADER, FAQ_ROW, row(number, [text_cell(ref, "遠方")])], dimension=f"A1:{ref}"
    )


def empty_cells(path: Path, cells: int, width: int = 100) -> Path:
    """A small FAQ followed by `cells` stored cells that hold only a fill colour."""
    refs = [column(c) for c in range(1, width + 1)]

    def rows() -> Iterator[str]:
        yield HEADER
        yield FAQ_ROW
        for r in range(3, 3 + cells // width):
            yield f'<row r="{r}">' + "".join(f'<c r="{c}{r}" s="1"/>' for c in refs) + "</row>"

    last = 2 + cells // width
    return write_workbook(path, rows(), dimension=f"A1:{refs[-1]}{last}")


def formulas_without_values(path: Path) -> Path:
    """Answers that are formulas never calculated (no cached <v>), and one that was."""
    return write_workbook(
        path,
        [
            HEADER,
            row(2, [text_cell("A2", "運費多少？"), '<c r="B2"><f>A2</f></c>']),
            row(
                3,
                [text_cell("A3", "可以刷卡嗎？"), '<c r="B3" t="str"><f>"可以"</f><v>可以</v></c>'],
            ),
            row(4, [text_cell("A4", "營業時間？"), '<c r="B4"><f>CONCAT(A4,"")</f></c>']),
        ],
        dimension="A1:B4",
    )


def zip_bomb(path: Path, megabytes: int = 1024) -> Path:
    """A workbook whose sheet unzips to `megabytes` (blank space between rows); ~1 MB zipped."""

    def rows() -> Iterator[str]:
        yield HEADER
        blank = " " * (1 << 20)
        for _ in range(megabytes):
            yield blank
        yield FAQ_ROW

    return write_workbook(path, rows(), dimension="A1:B2")
