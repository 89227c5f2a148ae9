"""Platforms' limits on what one message and one call may hold, and splitting text to fit.

Lengths are counted in UTF-16 code units, as the platforms' JavaScript-born limits are: an
emoji outside the Basic Multilingual Plane counts twice, so a text that fits here fits there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

# Where a long text is best cut, in order of preference: between paragraphs, between lines,
# after a sentence (Chinese or Western punctuation), after a space.
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[。！？；!?;])|(?<=[.](?=\s))"),
    re.compile(r"(?<=[，、,])|\s"),
)


def units(text: str) -> int:
    """The length of `text` in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 units."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return i
    return len(text)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at the best break in each part's
    second half (a paragraph, a line, a sentence, a space), else where the limit falls."""
    if limit < 2:
        raise ValueError("a part must hold at least 2 units")
    parts: list[str] = []
    rest = text.strip()
    while units(rest) > limit:
        room = _fits(rest, limit)
        cut = 0
        for pattern in _BREAKS:
            ends = [m.end() if m.end() > m.start() else m.start() for m in pattern.finditer(rest)]
            found = [end for end in ends if room // 2 <= end <= room]
            if found:
                cut = max(found)
                break
        if cut == 0:
            cut = room
        part = rest[:cut].rstrip()
        parts.append(part or rest[:cut])
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """`items` in consecutive groups of at most `size`."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def label(text: str, limit: int = 20) -> str:
    """A button's label within `limit` characters, cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
