"""Loaded items → chunks with stable ids: FAQ rows whole, document pages split at sentence ends.

Example::

    chunks = chunk_items(load_file(Path("manual.pdf")), chunk_size=500, chunk_overlap=50)
    chunks[1].locator   # "page=3;offset=480": the chunk starts 480 characters into page 3
"""

from __future__ import annotations

from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.language import detect_language
from ingest.model import Chunk, Item, LoadResult

# Paragraphs, lines, then sentence ends in Chinese and English, then clauses, then words.
SEPARATORS = [
    "\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", ". ", "，", ",", " ", "",
]  # fmt: skip


def _scalar(value: Any) -> str | int | float | bool | None:
    """Chroma accepts only str/int/float/bool metadata; None is dropped, the rest made a string."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _metadata(item: Item, **extra: Any) -> dict[str, Any]:
    merged = {**item.metadata, **extra}
    return {k: v for k, v in ((k, _scalar(v)) for k, v in merged.items()) if v is not None}


def _faq_language(item: Item) -> str:
    # The cell values without the header labels: "問題: " and "答案: " would make every
    # English row look Chinese, and "Question: " every Chinese row of a data table English.
    meta = item.metadata
    values = [meta.get("question"), meta.get("answer")]
    values += [v for k, v in meta.items() if k.startswith("field.")]
    basis = "\n".join(str(v) for v in values if v) or item.text
    return detect_language(basis)


def _offsets(text: str, pieces: list[str], overlap: int) -> list[int]:
    """Where each piece starts in `text`.

    Pieces come out in order, and with the separators kept they are stripped slices of the text,
    so each is searched for after the previous start, no earlier than the overlap allows (repeated
    sentences such as "請洽客服。" would otherwise match too early).
    """
    starts: list[int] = []
    previous_start, previous_end = -1, 0
    for piece in pieces:
        lower = max(previous_start + 1, previous_end - overlap)
        found = text.find(piece, lower)
        if found < 0:
            found = text.find(piece, previous_start + 1)
        if found < 0:  # cannot happen with these settings; keep offsets monotonic regardless
            found = max(previous_start + 1, 0)
        starts.append(found)
        previous_start, previous_end = found, found + len(piece)
    return starts


def chunk_items(
    result: LoadResult, *, chunk_size: int = 500, chunk_overlap: int = 50
) -> list[Chunk]:
    """Chunks of every item of one loaded file; FAQ items are never split, however long."""
    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",  # "…申請。" keeps its 。 and the next chunk starts clean
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )
    source = result.source
    chunks: list[Chunk] = []
    for item in result.items:
        if not item.text.strip():
            continue
        if item.is_faq:
            text = item.text.strip()
            title = str(item.metadata.get("question", ""))
            metadata = _metadata(
                item,
                source=source,
                locator=item.locator,
                language=_faq_language(item),
                kind="faq",
                title=title,
            )
            chunks.append(Chunk.build(source, item.locator, text, metadata))
            continue
        pieces = [p for p in splitter.split_text(item.text) if p.strip()]
        for piece, offset in zip(pieces, _offsets(item.text, pieces, chunk_overlap), strict=True):
            locator = f"{item.locator};offset={offset}"
            metadata = _metadata(
                item,
                source=source,
                locator=locator,
                language=detect_language(piece),
                kind="passage",
                title=str(item.metadata.get("title") or ""),
                offset=offset,
            )
            chunks.append(Chunk.build(source, locator, piece, metadata))
    return chunks
