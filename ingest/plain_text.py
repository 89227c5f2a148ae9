"""Text that enters kefu, made plain: one normaliser for what customers, agents and admins type
and for the text a file's cells give.

Kept: letters, line breaks (as "\\n") and tabs. Removed: every other control character (an
escape sequence such as "\\x1b[31m", a bell) and lone surrogates, which no store and no
spreadsheet can hold. Refused: NUL, which PostgreSQL cannot store and which nobody types; where
an id must be kept exactly, any control character. Text of nothing but spaces and invisible
characters (zero-width spaces, joiners, a BOM) counts as empty.

Here, at the bottom of the package graph, so that `ingest`, `knowledge` and `bot` all use the
same rules.
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 control characters and DEL, but tab and line feed; carriage returns are turned
# into line feeds first. Lone surrogates (from "\\ud800" in JSON) cannot be encoded at all.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class UnsafeText(ValueError):
    """Text that cannot be kept as it is; `code` is stable: nul_character, control_character."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def plain_text(text: str) -> str:
    """`text` as kefu keeps it: "\\r\\n" and "\\r" as "\\n", control characters other than
    line breaks and tabs removed. Raises UnsafeText (nul_character) for a NUL."""
    if "\x00" in text:
        raise UnsafeText("nul_character", "the text holds a NUL character (\\u0000)")
    return strip_controls(text)


def strip_controls(text: str) -> str:
    """Like `plain_text`, but a NUL is removed too: for text read from a file, where a stray
    NUL is the file's fault and the rest of the cell is still worth keeping."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def exact_text(text: str) -> str:
    """An id or a name that is stored and compared as it is: refused (UnsafeText, code
    nul_character or control_character) if it holds any control character, tabs and line
    breaks included, rather than changed behind the caller's back."""
    found = _ANY_CONTROL.search(text)
    if found is None:
        return text
    if found.group() == "\x00":
        raise UnsafeText("nul_character", "the text holds a NUL character (\\u0000)")
    raise UnsafeText(
        "control_character", f"the text holds a control character (U+{ord(found.group()):04X})"
    )


def is_blank(text: str) -> bool:
    """Nothing a person could read: only spaces and invisible characters (zero-width space,
    zero-width joiners, word joiner, BOM, direction marks: Unicode's format category)."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)
