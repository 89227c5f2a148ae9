"""File loaders, one module per format (`load(path, source) -> LoadResult`); `load_file` picks one.

Example::

    result = load_file(Path("faq.xlsx"))          # source defaults to the file name
    for problem in result.problems:
        print(problem)                            # faq.xlsx [sheet 退貨 row 12]: …
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.loaders import csv, html, pdf, text, xlsx
from ingest.model import LoadBudgets, LoadError, LoadResult

Loader = Callable[[Path, str], LoadResult]
BudgetedLoader = Callable[[Path, str, LoadBudgets | None], LoadResult]

LOADERS: dict[str, Loader] = {
    ".pdf": pdf.load,
    ".xlsx": xlsx.load,
    ".xlsm": xlsx.load,
    ".csv": csv.load,
    ".tsv": csv.load,
    ".txt": text.load,
    ".md": text.load,
    ".html": html.load,
    ".htm": html.load,
}
# Formats whose size on disk says little about what reading them costs (zipped XML, PDF streams).
BUDGETED_LOADERS: dict[str, BudgetedLoader] = {
    ".pdf": pdf.load,
    ".xlsx": xlsx.load,
    ".xlsm": xlsx.load,
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(LOADERS)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

# Formats people try that have a clear way out.
_CONVERT = {
    ".xls": "old Excel 97-2003 workbooks (.xls) are not supported; open it in Excel and save it "
    "as .xlsx (Excel Workbook), then upload it again",
    ".doc": "Word documents are not supported; save it as PDF (File > Save As > PDF) and upload "
    "that",
    ".docx": "Word documents are not supported; save it as PDF (File > Save As > PDF) and upload "
    "that",
    ".ods": "OpenDocument spreadsheets are not supported; save it as .xlsx and upload it again",
    ".numbers": "Numbers spreadsheets are not supported; export it as .xlsx (File > Export To > "
    "Excel) and upload that",
}


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def load_file(
    path: Path,
    *,
    source: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    budgets: LoadBudgets | None = None,
) -> LoadResult:
    """Load one file by its extension; raise LoadError naming the file and what to do.

    `budgets` bounds what a workbook or PDF may unpack to (cells, text, pages), checked while
    it is read."""
    path = Path(path)
    source = source or path.name
    suffix = path.suffix.lower()
    supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    if suffix not in LOADERS:
        reason = _CONVERT.get(suffix) or (
            f"unsupported file type '{suffix or '(no extension)'}'; kefu reads {supported} — "
            "save the file in one of these formats and upload it again"
        )
        raise LoadError(source, reason)
    if not path.exists():
        raise LoadError(source, f"file not found at {path}; check the path and upload it again")
    if not path.is_file():
        raise LoadError(source, f"{path} is a folder, not a file; upload the files inside it")
    size = path.stat().st_size
    if size == 0:
        raise LoadError(source, "the file is empty (0 bytes); export it again and upload it")
    if size > max_bytes:
        raise LoadError(
            source,
            f"the file is {_mb(size)}, more than the {_mb(max_bytes)} limit; split it into "
            "smaller files (or raise the limit) and upload again",
        )
    if size <= 64 * 1024 and not path.read_bytes().strip():
        raise LoadError(source, "the file is empty (it holds only blank space); export it again")
    try:
        budgeted = BUDGETED_LOADERS.get(suffix)
        if budgeted is not None:
            return budgeted(path, source, budgets)
        return LOADERS[suffix](path, source)
    except LoadError:
        raise
    except OSError:
        raise  # the caller reports unreadable files (permissions, vanished) on its own
    except Exception as exc:
        # One strange file must not stop the ingest of the others.
        raise LoadError(
            source,
            f"the file could not be read ({type(exc).__name__}: {exc}); check that it opens in "
            "its usual program, save it again and upload it",
        ) from exc
