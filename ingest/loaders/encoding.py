"""Turning the bytes of a text file (CSV, TXT, Markdown, HTML) into text without mojibake.

Taiwanese files come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), UTF-16 (Excel's
"Unicode text") or Big5 — in practice Microsoft's cp950, which has characters (碁銹裏墻恒粧嫺,
the euro sign, box drawing) that strict Big5 lacks. charset-normalizer alone sometimes names an
exotic codec for short Big5 text (johab, for one), so its guess is checked against these.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.utils import is_multi_byte_encoding

from ingest.model import LoadError

_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: Save As > 'CSV UTF-8') and upload it again"


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # a Python codec name: "utf-8", "utf-8-sig", "utf-16", "cp950", ...


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _utf16_without_bom(data: bytes) -> DecodedText | None:
    """UTF-16 written without a BOM: NUL bytes (from ASCII characters) on one side only."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:8192]
    even_zeros, odd_zeros = sample[0::2].count(0), sample[1::2].count(0)
    # CJK code points such as U+9000 (退) have a NUL byte of their own, so allow a few.
    if odd_zeros >= 2 and even_zeros * 4 <= odd_zeros:
        codec = "utf-16-le"
    elif even_zeros >= 2 and odd_zeros * 4 <= even_zeros:
        codec = "utf-16-be"
    else:
        return None
    text = _strict(data, codec)
    if text is None:
        return None
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n")
    return DecodedText(text, codec) if controls == 0 else None


def _cp950_or_big5(data: bytes) -> tuple[str, str] | None:
    for codec in ("cp950", "big5hkscs"):
        text = _strict(data, codec)
        if text is not None:
            return text, codec
    return None


def _plausible_cp950(data: bytes) -> bool:
    """cp950 decodes many byte strings; ask the mess detector whether this one reads as text."""
    return bool(from_bytes(data[:200_000], cp_isolation=["cp950"]))


def decode_bytes(data: bytes, source: str) -> DecodedText:
    """Decode a text file's bytes, or raise LoadError saying the encoding could not be detected."""
    if data.startswith(b"PK\x03\x04"):
        raise LoadError(
            source,
            "this is not a text file but a zipped document (probably an Excel .xlsx or Word "
            "file with the wrong extension); give it its real extension and upload it again",
        )
    if data.startswith(_UTF32_BOMS):
        text = _strict(data, "utf-32")
        if text is not None:
            return DecodedText(text, "utf-32")
    if data.startswith(codecs.BOM_UTF8):
        text = _strict(data, "utf-8-sig")
        if text is not None:
            return DecodedText(text, "utf-8-sig")
    if data.startswith(_UTF16_BOMS):
        text = _strict(data, "utf-16")
        if text is not None:
            return DecodedText(text, "utf-16")

    text = _strict(data, "utf-8")
    if text is not None and "\x00" not in text:
        return DecodedText(text, "utf-8")

    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16

    if b"\x00" in data[:8192]:
        raise LoadError(
            source,
            "this looks like a binary file, not text; check that the file is what its extension "
            f"says, or {_SAVE_AS_UTF8}",
        )

    best = from_bytes(data).best()
    guess = best.encoding if best is not None else None
    # Big5 named by the detector, or any other guess that cp950 also reads cleanly: Taiwanese
    # files are far more often cp950 than the Korean/Japanese/Cyrillic codecs it sometimes names.
    big5 = _cp950_or_big5(data)
    if big5 is not None and (guess in _BIG5_FAMILY or _plausible_cp950(data)):
        return DecodedText(*big5)
    if guess is not None and not is_multi_byte_encoding(guess):
        # On short samples the detector picks among Western single-byte codecs almost at random
        # (mac_latin2, cp775 for plain French or German); cp1252 is what Windows Excel writes.
        text = _strict(data, "cp1252")
        if text is not None:
            return DecodedText(text, "cp1252")
    if guess is not None:
        text = _strict(data, guess)
        if text is not None and "\ufffd" not in text:
            return DecodedText(text, codecs.lookup(guess).name)
    raise LoadError(
        source,
        "the text encoding could not be detected (it is not UTF-8, UTF-16 or Big5); "
        f"{_SAVE_AS_UTF8}",
    )
