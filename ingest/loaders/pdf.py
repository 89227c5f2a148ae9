"""PDF manuals and documents (pypdf): one item per page, its text cleaned of extraction quirks.

Pages without a text layer are reported, never dropped silently. Example::

    result = load(Path("manual.pdf"), "manual.pdf")
    result.items[0].locator   # "page=1"
    result.problems           # [Problem("manual.pdf", "page 3", "page 3 has no text layer …")]
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from ingest.language import CJK_PUNCT, HAN
from ingest.model import Item, LoadBudgets, LoadError, LoadResult, Problem

_RESAVE = (
    "open it in a PDF viewer and save or print it as a new PDF (or export it again from the "
    "original document), then upload it again"
)
_OCR = "run OCR on it first (for example ocrmypdf, or Adobe Acrobat's 'Recognize Text')"

_KANA = "\u3040-\u30ff"
_CJK = f"{HAN}{_KANA}{CJK_PUNCT}"
# Ending a line with these means the sentence goes on (a list of districts wrapped mid-way).
_CONTINUES = "、，；「『（《〈"
# Display columns (a CJK character is two) a line must fill before it can be a soft wrap.
_MIN_WRAP_WIDTH = 20
# Starting a line with these means it belongs to the line before.
_TRAILING = "，、。；：！？」』）》〉"
# Ending a line with these means the line is complete.
_CLOSES = "。！？：」』）》〉…"
_SPACED_CJK = re.compile(f"[{_CJK}](?: [{_CJK}]){{2,}}")
# Kangxi radicals and compatibility ideographs that some CJK fonts map their glyphs to
# ("⽇" U+2F47 for "日"): NFKC turns them into the ordinary characters people type.
_COMPAT = re.compile("[\u2e80-\u2fdf\uf900-\ufaff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# Text from fonts without a Unicode map comes out as private-use characters or U+FFFD.
_UNDECODED = re.compile("[\ue000-\uf8ff\ufffd]")
_HAN_OR_KANA = re.compile(f"[{HAN}{_KANA}]")


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _is_cjk(ch: str) -> bool:
    return bool(re.match(f"[{_CJK}]", ch))


def _joins(line: str, following: str, full_width: int) -> bool:
    """Is the break between `line` and `following` a soft wrap inside Chinese text?"""
    last, first = line[-1], following[0]
    if not _is_cjk(last) or not _is_cjk(first) or last in _CLOSES:
        return False
    if last in _CONTINUES or first in _TRAILING:
        return True
    if not _HAN_OR_KANA.match(first):
        return False
    # A line that reaches (almost) the right margin was wrapped; a short one ended on purpose,
    # as in a list of department names. A page of nothing but short lines is a list.
    width = _display_width(line)
    return width >= _MIN_WRAP_WIDTH and width >= 0.8 * full_width


def clean_page_text(raw: str) -> str:
    """Normalise pypdf's text: one space at most, CJK soft wraps joined, paragraphs kept."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\u00a0", " ").replace("\u3000", " ")
    text = _CONTROL.sub("", text)
    text = _COMPAT.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    # "退 貨 申 請" → "退貨申請": pypdf spaces out CJK text set with character spacing.
    lines = [_SPACED_CJK.sub(lambda m: m.group().replace(" ", ""), line) for line in lines]

    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    full_width = max((_display_width(line) for line in lines if line), default=0)
    out: list[str] = []
    for para in paragraphs:
        if not para:
            continue
        joined = para[0]
        for previous, line in itertools.pairwise(para):
            joined += ("" if _joins(previous, line, full_width) else "\n") + line
        out.append(joined)
    return "\n\n".join(out)


def _title(reader: PdfReader) -> str:
    try:
        meta = reader.metadata
        title = meta.title if meta is not None else None
    except Exception:
        return ""  # a broken info dictionary costs the title, not the file
    return " ".join(str(title).split()) if title else ""


def _open(path: Path, source: str) -> PdfReader:
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF" not in head:
        raise LoadError(source, "this is not a PDF file (it does not start with %PDF); " + _RESAVE)
    try:
        reader = PdfReader(path)
    except Exception as exc:
        raise LoadError(
            source,
            f"the PDF is damaged or incomplete and could not be opened ({type(exc).__name__}: "
            f"{exc}); " + _RESAVE,
        ) from exc
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")
        except DependencyError as exc:
            raise LoadError(
                source,
                "the PDF is encrypted with AES, which this server cannot open (the Python "
                "package 'cryptography' is not installed); remove the protection (print it to a "
                "new PDF) and upload it again",
            ) from exc
        except Exception as exc:
            raise LoadError(
                source,
                f"the PDF is encrypted and could not be decrypted ({exc}); remove the password "
                "and upload it again",
            ) from exc
        if decrypted == PasswordType.NOT_DECRYPTED:
            raise LoadError(
                source,
                "this is an encrypted PDF that needs a password; remove the password and "
                "upload it again",
            )
    return reader


def load(path: Path, source: str, budgets: LoadBudgets | None = None) -> LoadResult:
    budgets = budgets or LoadBudgets()
    reader = _open(path, source)
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise LoadError(
            source,
            f"the PDF's page list is damaged ({type(exc).__name__}: {exc}); " + _RESAVE,
        ) from exc
    if not pages:
        raise LoadError(source, "the PDF has no pages; " + _RESAVE)
    if len(pages) > budgets.max_pages:
        raise LoadError(
            source,
            f"the PDF has {len(pages):,} pages, more than the {budgets.max_pages:,} allowed "
            "(KEFU_INGEST__MAX_PDF_PAGES); split it into smaller PDFs (for example one per "
            "chapter) and upload them one by one",
        )

    title = _title(reader)
    items: list[Item] = []
    problems: list[Problem] = []
    failures: list[str] = []
    for number, page in enumerate(pages, start=1):
        where = f"page {number}"
        try:
            raw = page.extract_text() or ""
        except Exception as exc:
            failures.append(f"page {number}: {type(exc).__name__}: {exc}")
            problems.append(
                Problem(
                    source,
                    where,
                    f"page {number} could not be read ({type(exc).__name__}: {exc}); the PDF may "
                    "be damaged there — " + _RESAVE,
                )
            )
            continue
        if len(raw) > budgets.max_page_chars:
            problems.append(
                Problem(
                    source,
                    where,
                    f"page {number} holds {len(raw):,} characters of text, more than the "
                    f"{budgets.max_page_chars:,} a page may have "
                    "(KEFU_INGEST__MAX_PDF_PAGE_CHARS), so it was left out; a real page holds "
                    "a few thousand — export the PDF again from the original document",
                )
            )
            continue
        text = clean_page_text(raw)
        visible = re.sub(r"\s", "", text)
        if not visible:
            problems.append(
                Problem(
                    source,
                    where,
                    f"page {number} has no text layer (a scanned image?), so nothing on it can "
                    "be found; " + _OCR + " and upload it again",
                )
            )
            continue
        undecoded = len(_UNDECODED.findall(visible))
        if undecoded > 0.3 * len(visible):
            problems.append(
                Problem(
                    source,
                    where,
                    f"the text of page {number} could not be decoded (its fonts have no Unicode "
                    "map, so it would be gibberish); export the PDF again from the original "
                    "document, or " + _OCR,
                )
            )
            continue
        if undecoded:
            text = _UNDECODED.sub("", text)
        metadata: dict[str, str | int] = {"page": number}
        if title:
            metadata["title"] = title
        items.append(Item(text, f"page={number}", metadata))

    if not items:
        if failures:
            raise LoadError(
                source,
                f"no page could be read (first error on {failures[0]}); the PDF is damaged — "
                + _RESAVE,
            )
        if any("could not be decoded" in p.reason for p in problems):
            raise LoadError(
                source,
                "the PDF's text could not be decoded on any page (its fonts have no Unicode "
                "map); export it again from the original document, or " + _OCR,
            )
        raise LoadError(
            source,
            f"none of its {len(pages)} page(s) has a text layer: it is an image-only (scanned) "
            "PDF; " + _OCR + " and upload it again",
        )
    return LoadResult(source, items, problems)
