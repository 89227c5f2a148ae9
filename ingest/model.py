"""What ingest speaks in: loaded items, chunks with stable ids, and the problems a file had."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


class LoadError(Exception):
    """A whole file could not be read; the message names the file and what to do."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class LoadBudgets:
    """How much one file may hold before it is refused; checked while it is read.

    The defaults are generous for real FAQ sheets and manuals and stop what would take the server
    down: a workbook that unzips to gigabytes, a string of millions of characters, a value parked
    at XFD1048576, a PDF of endless pages. `bot.settings.IngestSettings` sets them.
    """

    max_cells: int = 200_000  # spreadsheet cells holding a value, and the table they span
    max_cell_chars: int = 20_000  # one cell or shared string
    max_unzipped_bytes: int = 200 * 1024 * 1024  # an XLSX archive, all parts unzipped
    max_pages: int = 2_000  # PDF pages
    max_page_chars: int = 50_000  # text extracted from one PDF page


@dataclass(frozen=True)
class Problem:
    """Something a loader could not use (a page with no text, a broken row), kept for the report."""

    source: str
    where: str  # "page 3", "sheet 退貨 row 12", "" for the whole file
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.source} [{self.where}]: {self.reason}"
            if self.where
            else f"{self.source}: {self.reason}"
        )


@dataclass(frozen=True)
class Item:
    """One unit a loader read: a spreadsheet row (a FAQ item) or a page/section of a document.

    `locator` says where it is inside the source ("sheet=退貨;row=5", "page=3");
    `is_faq` items are never split by the chunker.
    """

    text: str
    locator: str
    metadata: dict[str, Any] = field(default_factory=dict)
    is_faq: bool = False


@dataclass
class LoadResult:
    source: str
    items: list[Item]
    problems: list[Problem] = field(default_factory=list)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def chunk_id(source: str, locator: str, text_hash: str) -> str:
    """Stable id: the same text at the same place in the same file always gets the same id."""
    digest = hashlib.sha256(f"{source}\x1f{locator}\x1f{text_hash}".encode()).hexdigest()
    return digest[:24]


@dataclass(frozen=True)
class Chunk:
    """A piece of knowledge ready to index. `metadata` holds only str/int/float/bool values."""

    id: str
    source: str
    locator: str
    text: str
    hash: str
    metadata: dict[str, Any]

    @classmethod
    def build(cls, source: str, locator: str, text: str, metadata: dict[str, Any]) -> Chunk:
        h = content_hash(text)
        return cls(
            id=chunk_id(source, locator, h),
            source=source,
            locator=locator,
            text=text,
            hash=h,
            metadata=metadata,
        )
