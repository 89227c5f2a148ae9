"""What a picture says besides its pixels (where it was taken, with which camera, by whom),
removed before it is kept.

Each format's structure is walked and rewritten without the parts that describe the photo
rather than draw it; the compressed picture data is copied byte for byte, never decoded or
re-encoded, so the stored picture shows exactly the pixels that were sent.

* JPEG: APP1 (EXIF, XMP), APP13 (IPTC, Photoshop), COM and every other application segment
  go, except the ones that change how the pixels look: APP0 JFIF (without its thumbnail),
  APP2 ICC_PROFILE and APP14 Adobe. Whatever follows the end-of-image marker goes too (phones
  append more pictures there: depth maps, a second shot, each with its own EXIF).
* PNG: only the chunks that draw the picture stay: the critical ones (IHDR, PLTE, IDAT,
  IEND), colour and transparency (tRNS, cHRM, gAMA, iCCP, sBIT, sRGB, cICP, mDCv, cLLi, bKGD,
  hIST, pHYs, sPLT) and animation (acTL, fcTL, fdAT). tEXt, zTXt, iTXt, eXIf, tIME, and any
  private chunk, go.
* WebP: EXIF, XMP and unknown chunks go; the RIFF size and the VP8X flags are made true again.
* GIF: comment and plain-text extensions go, and application extensions other than the
  animation loop (NETSCAPE2.0, ANIMEXTS1.0) and the ICC profile (ICCRGBG1).

The orientation is kept. A phone stores a photo as its sensor saw it and says in EXIF how to
turn it; browsers turn it when they show it. Applying the turn instead would mean decoding and
re-encoding the picture, so when the EXIF said anything but "as stored", a minimal EXIF
holding that one tag (0x0112) is written in its place: no position, no camera, no date, no
thumbnail (a thumbnail can show what was cropped out).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from bot.attachments.images import GIF, JPEG, PNG, WEBP, ImageType

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112

# JPEG application segments that change how the pixels look, by marker and their start
JPEG_KEPT = {0xE0: (b"JFIF\x00",), 0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}
PNG_KEPT = frozenset(
    {
        b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCv", b"cLLi",
        b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
    }
)  # fmt: skip
WEBP_KEPT = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
WEBP_EXIF_FLAG = 0x08
WEBP_XMP_FLAG = 0x04
GIF_KEPT_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1")


class MetadataDamaged(ValueError):
    """The structure does not hold together where it is rewritten."""


def without_metadata(data: bytes, kind: ImageType) -> bytes:
    """`data`, a whole image of type `kind` (checked by images.check_image), without its
    metadata; the picture data itself untouched."""
    strip = {JPEG: _jpeg, PNG: _png, GIF: _gif, WEBP: _webp}[kind]
    try:
        return strip(data)
    except (struct.error, IndexError, ValueError):  # ValueError: a scan that never ends
        raise MetadataDamaged() from None


# EXIF orientation


def orientation(exif: bytes) -> int | None:
    """The orientation (2-8) an EXIF block (TIFF, with or without the Exif header) asks for;
    None when it asks for none, or 1 (as stored), or cannot be read."""
    tiff = exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    at = struct.unpack(order + "I", tiff[4:8])[0]
    if at + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[at : at + 2])[0]
    for n in range(count):
        entry = at + 2 + 12 * n
        if entry + 12 > len(tiff):
            return None
        tag, kind, values = struct.unpack(order + "HHI", tiff[entry : entry + 8])
        if tag == ORIENTATION_TAG:
            if kind != 3 or values != 1:  # one SHORT
                return None
            value = struct.unpack(order + "H", tiff[entry + 8 : entry + 10])[0]
            return value if 2 <= value <= 8 else None
    return None


def orientation_only(value: int) -> bytes:
    """A minimal TIFF block (no Exif header) with IFD0 holding the orientation only."""
    entry = struct.pack(">HHIHH", ORIENTATION_TAG, 3, 1, value, 0)
    return b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + entry + b"\x00" * 4


# JPEG


def _jpeg(data: bytes) -> bytes:
    out = bytearray(data[:2])  # SOI
    placed = False  # the first EXIF's place, where the orientation goes
    for marker, start, end in _jpeg_segments(data, 2):
        if marker == 0xD9:
            out += b"\xff\xd9"
            return bytes(out)
        if marker != 0xFE and not 0xE0 <= marker <= 0xEF:
            out += data[start:end]  # tables, frame, scans: the picture itself
            continue
        body = data[start + 4 : end]  # past the marker and the length
        if marker == 0xE1 and body.startswith(EXIF_HEADER) and not placed:
            placed = True
            turned = orientation(body)
            if turned is not None:
                out += _jpeg_segment(0xE1, EXIF_HEADER + orientation_only(turned))
        elif any(body.startswith(kept) for kept in JPEG_KEPT.get(marker, ())):
            if marker == 0xE0 and len(body) > 14:  # JFIF with a thumbnail: without it
                out += _jpeg_segment(0xE0, body[:12] + b"\x00\x00")
            else:
                out += data[start:end]
    raise MetadataDamaged()  # no end-of-image marker


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _jpeg_segments(data: bytes, at: int) -> Iterator[tuple[int, int, int]]:
    """Each (marker, start, end) after SOI: a segment with its length, or after a scan the
    entropy-coded data with it (bytes 0xFF in it are stuffed as FF 00; restart markers are
    part of it), up to and including EOI."""
    while True:
        if data[at] != 0xFF:
            raise MetadataDamaged()
        while data[at] == 0xFF:  # fill bytes, not kept
            at += 1
        start = at - 1
        marker = data[at]
        at += 1
        if marker == 0xD9:
            yield marker, start, at
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            yield marker, start, at
            continue
        length = struct.unpack(">H", data[at : at + 2])[0]
        if length < 2 or at + length > len(data):
            raise MetadataDamaged()
        at += length
        if marker == 0xDA:
            at = _entropy_end(data, at)
        yield marker, start, at


def _entropy_end(data: bytes, at: int) -> int:
    """Where a scan's entropy-coded data ends: at the next marker that is not a restart."""
    while True:
        at = data.index(b"\xff", at)  # ValueError past the end: truncated
        following = data[at + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            at += 1 if following == 0xFF else 2
            continue
        return at


# PNG


def _png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    at = 8
    while True:
        length, name = struct.unpack(">I4s", data[at : at + 8])
        end = at + 12 + length
        if end > len(data):
            raise MetadataDamaged()
        if name == b"eXIf":
            turned = orientation(data[at + 8 : at + 8 + length])
            if turned is not None:
                out += _png_chunk(b"eXIf", orientation_only(turned))
        elif not name[0] & 0x20 or name in PNG_KEPT:  # critical (upper case), or drawing
            out += data[at:end]
        at = end
        if name == b"IEND":
            return bytes(out)


def _png_chunk(name: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(name + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + name + body + struct.pack(">I", crc)


# WebP


def _webp(data: bytes) -> bytes:
    declared = struct.unpack("<I", data[4:8])[0] + 8
    chunks = bytearray()
    at = 12
    extended_at: int | None = None  # where VP8X's flags are in `chunks`
    has_exif = False
    while at < declared:
        name, size = struct.unpack("<4sI", data[at : at + 8])
        end = at + 8 + size + (size & 1)
        if end > declared:
            raise MetadataDamaged()
        if name == b"EXIF":
            body = data[at + 8 : at + 8 + size]
            turned = orientation(body)
            if turned is not None and extended_at is not None and not has_exif:
                has_exif = True
                block = orientation_only(turned)
                if body.startswith(EXIF_HEADER):
                    block = EXIF_HEADER + block  # as the writer had it
                chunks += name + struct.pack("<I", len(block)) + block + b"\x00" * (len(block) & 1)
        elif name in WEBP_KEPT:
            if name == b"VP8X":
                extended_at = len(chunks) + 8
            chunks += data[at:end]
        at = end
    if extended_at is not None:
        flags = chunks[extended_at] & ~(WEBP_EXIF_FLAG | WEBP_XMP_FLAG)
        chunks[extended_at] = flags | (WEBP_EXIF_FLAG if has_exif else 0)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + bytes(chunks)


# GIF


def _gif(data: bytes) -> bytes:
    flags = data[10]
    at = 13
    if flags & 0x80:
        at += 3 * (2 ** ((flags & 7) + 1))
    out = bytearray(data[:at])
    while True:
        block = data[at]
        if block == 0x3B:
            out += b"\x3b"
            return bytes(out)
        if block == 0x21:
            label = data[at + 1]
            end = _gif_sub_blocks(data, at + 2)
            if label == 0xF9 or (label == 0xFF and _gif_application(data, at + 2)):
                out += data[at:end]  # graphic control (timing, transparency), or a kept app
        elif block == 0x2C:
            local = data[at + 9]
            end = at + 10
            if local & 0x80:
                end += 3 * (2 ** ((local & 7) + 1))
            end = _gif_sub_blocks(data, end + 1)
            out += data[at:end]
        else:
            raise MetadataDamaged()
        at = end


def _gif_sub_blocks(data: bytes, at: int) -> int:
    while True:
        size = data[at]
        at += 1 + size
        if size == 0:
            return at
        if at > len(data):
            raise MetadataDamaged()


def _gif_application(data: bytes, at: int) -> bool:
    """Whether the application extension whose sub-blocks start at `at` is one that is kept."""
    size = data[at]
    return size == 11 and data[at + 1 : at + 12].startswith(GIF_KEPT_APPLICATIONS)
