"""The passages a language model may see when it drafts an answer: nothing else reaches it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    """One retrieved item as evidence: a FAQ row's answer or a document chunk's text."""

    item_id: str
    text: str
    source: str  # the knowledge source's file name, for citations
    locator: str  # where in the source: sheet and row, page, …
