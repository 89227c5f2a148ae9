"""The extractive reply: the bot's words are the knowledge base's words, with citations."""

from __future__ import annotations

import re

from bot.answering.candidates import Candidate
from bot.conversation.events import Citation
from knowledge.text import tokenize

SNIPPET_CHARS = 160
MAX_SENTENCES = 3
# Sentence ends in Chinese and English; a full stop between digits ("1.5") is not one.
_SENTENCE = re.compile(r"(?<=[。！？；!?])|(?<=[.])(?=\s)|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def citation(candidate: Candidate) -> Citation:
    hit = candidate.best
    snippet = hit.text if len(hit.text) <= SNIPPET_CHARS else hit.text[:SNIPPET_CHARS] + "…"
    return Citation(item_id=hit.id, source=hit.source, locator=hit.locator, snippet=snippet)


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


def citation_label(cited: Citation, language: str) -> str:
    """Where a citation points, for people: "shop_faq.xlsx · 退換貨 · row 5", "a.pdf · p. 3"."""
    parts = dict(p.split("=", 1) for p in cited.locator.split(";") if "=" in p)
    shown = [cited.source]
    if "sheet" in parts:
        shown.append(parts["sheet"])
    if "row" in parts:
        shown.append(f"第 {parts['row']} 列" if language == "zh" else f"row {parts['row']}")
    if "page" in parts:
        shown.append(f"第 {parts['page']} 頁" if language == "zh" else f"p. {parts['page']}")
    return " · ".join(shown)
