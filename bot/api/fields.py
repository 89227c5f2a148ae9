"""Request fields whose text goes through kefu's one normaliser (`ingest.plain_text`), and ids
and numbers bounded so that what reaches the database fits it.

A refusal is a validation error whose type is the stable code (nul_character,
control_character, empty_message); `bot.api.errors` answers it as 400 with that code.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from ingest.plain_text import UnsafeText, exact_text, is_blank, plain_text

TEXT_CODES = (
    "nul_character",
    "control_character",
    "empty_message",
    "invalid_colour",  # bot/desk/branding.py
    "invalid_logo_url",
)
# The events' seq column is a 32-bit integer on PostgreSQL; a larger number is no seq.
MAX_SEQ = 2**31 - 1
# Ids kefu makes (uuid hex) and names admins give: no control characters, no spaces.
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


def _plain(value: str) -> str:
    try:
        return plain_text(value)
    except UnsafeText as unsafe:
        raise PydanticCustomError(unsafe.code, str(unsafe)) from None


def _said(value: str) -> str:
    value = _plain(value)
    if is_blank(value):
        raise PydanticCustomError("empty_message", "the text is empty")
    return value.strip()


def _exact(value: str) -> str:
    try:
        return exact_text(value)
    except UnsafeText as unsafe:
        raise PydanticCustomError(unsafe.code, str(unsafe)) from None


PlainText = Annotated[str, AfterValidator(_plain)]
"""Free text, control characters removed (line breaks and tabs kept); a NUL is refused."""

SaidText = Annotated[str, AfterValidator(_said)]
"""Something a person says (an agent's reply or note): plain, stripped, and not empty."""

ExactText = Annotated[str, AfterValidator(_exact)]
"""An id or a name kept as it is: any control character is refused."""
