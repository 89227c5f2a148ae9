"""How many questions one message asks: several at once are better answered by a person.

A message is cut into clauses at sentence ends and commas; a clause is a question when it ends
with ？/? or carries a question word (嗎, 怎麼, 多少, how, can I …), and the items of an
enumeration (1. 2. / 一、二、/ first, second) count as questions when the message asks
anything at all. One question spread over several clauses ("請問，運費多少？") counts once
because only the clauses with a marker count.
"""

from __future__ import annotations

import re

_CLAUSES = re.compile(r"(?<=[?？])|[。！!；;:：\n，,、]+|\s(?=\d+[.)、]\s?)")
_ZH_MARKERS = re.compile(
    r"[嗎嘛呢]\s*$|[嗎呢][?？]?|什麼|甚麼|怎麼|怎樣|如何|為什麼|為何|哪|幾[點天個號次件]|多少|多久"
    r"|是否|能否|可否|能不能|可不可以|有沒有|會不會|是不是|要不要|行不行"
)
_EN_MARKERS = re.compile(
    r"^\s*(and |or |also |but |then |plus )*(what|how|why|when|where|which|who|whose|whom"
    r"|can|could|do|does|did|is|are|was|were|will|would|should|shall|may|might|have|has)\b"
    r"|\b(what|how|why|when|where|which)\b",
    re.I,
)
_ENUMERATION = re.compile(
    r"^\s*(\(?\d+[.)、]|[一二三四五六七八九十]+、|第[一二三四五六七八九十]|[(（][一二三四五六七八九十\d][)）]"
    r"|(first|second|third|fourth|also|another( question)?)\b|另外|還有|以及|再來|再者)",
    re.I,
)


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSES.split(text) if c and c.strip()]


def is_question(clause: str) -> bool:
    return (
        clause.rstrip().endswith(("?", "？"))
        or bool(_ZH_MARKERS.search(clause))
        or bool(_EN_MARKERS.search(clause))
    )


def count_questions(text: str) -> int:
    """The number of questions in a message (0 for a statement)."""
    parts = clauses(text)
    questions = [c for c in parts if is_question(c)]
    if not questions:
        return 0
    # An item of a list asks about what it names ("2. 退貨期限"); a bare marker ("第一，…",
    # "Also, how …") only introduces the clause after it.
    listed = [
        c
        for c in parts
        if (found := _ENUMERATION.search(c)) and len(c) - found.end() >= 2 and not is_question(c)
    ]
    return len(questions) + len(listed)


def message_length(text: str) -> int:
    """Characters once runs of whitespace count as one space."""
    return len(" ".join(text.split()))
