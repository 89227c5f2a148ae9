"""The extractive reply: the bot's words are the knowledge base's words, with citations."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from bot.answering.candidates import Candidate
from bot.conversation.events import Citation
from knowledge.retriever import Hit
from knowledge.text import tokenize

SNIPPET_CHARS = 160
MAX_SENTENCES = 3
# Sentence ends in Chinese and English; a full stop between digits ("1.5") is not one.
_SENTENCE = re.compile(r"(?<=[。！？；!?])|(?<=[.])(?=\s)|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


# Columns (of a FAQ row) or metadata that give an item's public address.
URL_NAMES = frozenset({"url", "link", "連結", "網址", "網頁", "連結網址"})


def citation(candidate: Candidate) -> Citation:
    hit = candidate.best
    snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS] + "…"
    return Citation(
        item_id=hit.id,
        source=hit.source,
        locator=hit.locator,
        snippet=snippet,
        title=public_title(hit),
        url=public_url(hit.metadata),
    )


def public_title(hit: Hit) -> str:
    """What a customer is told the answer comes from: a FAQ row's question, else the
    document's title (PDF metadata, a heading), else the file's name without its extension."""
    meta = hit.metadata
    if meta.get("kind") == "faq":
        question = " ".join(str(meta.get("question") or "").split())
        if question:
            return question
    title = " ".join(str(meta.get("title") or "").split())
    return title or PurePath(hit.source).stem


def public_url(metadata: dict[str, Any]) -> str:
    """The item's public address: a column or metadata field named URL, 連結, 網址, … holding
    an http(s) link. Anything else (a file path, javascript:) is not a link for customers."""
    for key, value in metadata.items():
        name = key.removeprefix("field.").strip().lower()
        if name in URL_NAMES:
            link = str(value).strip()
            if re.match(r"https?://[^\s]+$", link, re.IGNORECASE):
                return link
    return ""


def reply_text(candidate: Candidate, question: str) -> str:
    """A FAQ row answers with its answer; a passage with its sentences that answer the question
    (those sharing the most words with it, plus the one after the best when it continues it)."""
    if candidate.answer is not None:
        return candidate.answer
    text = candidate.best.text
    parts = sentences(text)
    if len(parts) <= MAX_SENTENCES:
        return text.strip()
    asked = set(tokenize(question))
    overlap = [len(asked & set(tokenize(p))) for p in parts]
    best = max(range(len(parts)), key=lambda i: (overlap[i], -i))
    chosen = {best}
    if best + 1 < len(parts):
        chosen.add(best + 1)
    ranked = sorted(range(len(parts)), key=lambda i: overlap[i], reverse=True)
    for i in ranked:
        if len(chosen) >= MAX_SENTENCES or overlap[i] == 0:
            break
        chosen.add(i)
    return (
        " ".join(parts[i] for i in sorted(chosen))
        if _is_latin(text)
        else "".join(parts[i] for i in sorted(chosen))
    )


def _is_latin(text: str) -> bool:
    return sum(ch.isascii() for ch in text) > len(text) / 2


def _locator_parts(locator: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in locator.split(";") if "=" in p)


def citation_page(cited: Citation) -> int | None:
    page = _locator_parts(cited.locator).get("page", "")
    return int(page) if page.isdigit() else None


def citation_title(cited: Citation) -> str:
    """The citation's title; events logged before titles existed fall back to the file's stem."""
    return cited.title or PurePath(cited.source).stem


def customer_label(cited: Citation, language: str) -> str:
    """Where an answer comes from, as a customer understands it: the FAQ's question
    ("退貨要怎麼申請？") or the document's title and page ("服務條款與政策 · 第 3 頁"); never
    a file name with its sheet and row."""
    title = citation_title(cited)
    page = citation_page(cited)
    if page is None:
        return title
    return f"{title} · 第 {page} 頁" if language == "zh" else f"{title} · p. {page}"


def citation_label(cited: Citation, language: str) -> str:
    """Where a citation points, for agents and admins: "shop_faq.xlsx · 退換貨 · row 5",
    "a.pdf · p. 3"."""
    parts = _locator_parts(cited.locator)
    shown = [cited.source]
    if "sheet" in parts:
        shown.append(parts["sheet"])
    if "row" in parts:
        shown.append(f"第 {parts['row']} 列" if language == "zh" else f"row {parts['row']}")
    if "page" in parts:
        shown.append(f"第 {parts['page']} 頁" if language == "zh" else f"p. {parts['page']}")
    return " · ".join(shown)
