"""Retrieved hits grouped into candidate answers: rows that give the same answer are one answer.

A FAQ often asks one question several ways (one row per phrasing, the same answer); a
document passage is its own answer. The group's score is its best hit's fused score plus a
vote from the group's other hits, so that many close phrasings outweigh one lucky match.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from knowledge.retriever import Hit
from knowledge.text import normalize, tokenize

VOTE_DEPTH = 30  # hits that may vote
VOTE_WEIGHT = 0.1  # what each further hit of the same answer adds, times its fused score


@dataclass(frozen=True)
class Candidate:
    key: str
    hits: tuple[Hit, ...]  # best first
    score: float

    @property
    def best(self) -> Hit:
        return self.hits[0]

    @property
    def question(self) -> str | None:
        value = str(self.best.metadata.get("question") or "").strip()
        return value or None

    @property
    def answer(self) -> str | None:
        value = str(self.best.metadata.get("answer") or "").strip()
        return value or None

    @property
    def is_faq(self) -> bool:
        return self.question is not None and self.answer is not None

    @cached_property
    def words(self) -> frozenset[str]:
        """The tokens of its best item's text and question (what keyword coverage looks at).
        The text's are read as the catalog keeps them: tokenising the retrieved items' texts
        again at every turn was a fifth of a turn's CPU (eval/profile_turn.py)."""
        best = self.best
        text = best.tokens if best.tokens is not None else tokenize(best.text)
        return frozenset(text) | frozenset(tokenize(self.question or ""))

    @property
    def topic(self) -> str:
        """The sheet of a spreadsheet row, else the file."""
        sheet = self.best.metadata.get("sheet")
        return f"{self.best.source} › {sheet}" if sheet else self.best.source


def answer_key_of(metadata: dict[str, Any], item_id: str) -> str:
    answer = str(metadata.get("answer") or "").strip()
    return _answer_key(answer) if answer else f"item:{item_id}"


@lru_cache(maxsize=8192)
def _answer_key(answer: str) -> str:
    # the same answers come back turn after turn; normalising them was most of grouping's time
    return f"answer:{normalize(answer)}"


def answer_key(hit: Hit) -> str:
    return answer_key_of(hit.metadata, hit.id)


def group(hits: list[Hit]) -> list[Candidate]:
    """Candidates, best first."""
    members: dict[str, list[Hit]] = {}
    for hit in hits[:VOTE_DEPTH]:
        members.setdefault(answer_key(hit), []).append(hit)
    candidates = [
        Candidate(key, tuple(found), found[0].score + VOTE_WEIGHT * sum(h.score for h in found[1:]))
        for key, found in members.items()
    ]
    return sorted(candidates, key=lambda c: c.score, reverse=True)
