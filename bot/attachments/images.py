"""What an uploaded file is, read from its bytes: a JPEG, PNG, GIF or WebP image, whole, of a
sane size, or refused with a stable code.

The type comes from the magic number at the start of the content; the file's name and the
content type the client declared are never asked. Then the format's structure is walked to
its end marker, which finds a truncated or damaged file and gives the picture's size:

* PNG: the signature, then chunks (IHDR first) up to IEND; nothing may follow IEND.
* GIF: the header and logical screen, then blocks and sub-blocks up to the trailer (0x3B);
  nothing may follow it.
* WebP: a RIFF container whose declared size is exactly the file's; the first chunk (VP8,
  VP8L or VP8X) gives the size.
* JPEG: segments up to the first scan (a frame header, SOFn, among them), then an end-of-image
  marker after it. Bytes after the marker are allowed (cameras and phones append their own
  data there), provided they hold no markup.

Markup (HTML, SVG, script) within the first KiB, where browsers look when they guess a type,
or after the image's end, is refused: an SVG or an HTML page renamed .png never starts with an
image's magic number, and a file that is an image and a page at once is not taken. What may
hide inside a valid image's own text fields (a PNG tEXt chunk, a GIF comment) further on is
not kept: the store removes those with the rest of the metadata (bot/attachments/metadata.py),
and pictures are served only with the sniffed image type, `nosniff`, and a sandboxing
Content-Security-Policy (bot/api/attachments.py).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from bot.answering.texts import say

MAX_PIXELS = 50_000_000  # 50 MP: a phone's photo fits; a small file that unpacks to GBs does not
HEAD_BYTES = 1024
# Tags a browser would run or render (case-insensitive), looked for where they could be read
# as a page: the first KiB and whatever follows the image's end.
MARKUP = re.compile(
    rb"<\s*(?:script|html|svg|body|iframe|object|embed|head|meta|!doctype|\?xml-stylesheet)",
    re.IGNORECASE,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# SOF0-3, 5-7, 9-11, 13-15: the frame headers that carry the picture's size
JPEG_FRAMES = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


@dataclass(frozen=True)
class ImageType:
    content_type: str
    extension: str  # for the served file name only


JPEG = ImageType("image/jpeg", "jpg")
PNG = ImageType("image/png", "png")
GIF = ImageType("image/gif", "gif")
WEBP = ImageType("image/webp", "webp")
TYPES = {t.content_type: t for t in (JPEG, PNG, GIF, WEBP)}


@dataclass(frozen=True)
class ImageInfo:
    type: ImageType
    width: int
    height: int
    size: int  # bytes


class ImageRefused(ValueError):
    """Not an image kefu keeps. `code` is stable (image_empty, image_too_large,
    image_unsupported_type, image_damaged, image_too_many_pixels, and from the store
    image_quota_reached); the texts (error_<code>)
    are for the person who sent it."""

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(say(f"error_{code}", "en", **values))
        self.code = code
        self.key = f"error_{code}"
        self.values = values


class _Damaged(Exception):
    """The structure ends early or does not hold together."""


def sniff_type(data: bytes) -> ImageType | None:
    """The image type the content starts with, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(PNG_SIGNATURE):
        return PNG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def check_image(data: bytes, max_bytes: int) -> ImageInfo:
    """The image `data` is, or ImageRefused saying why not."""
    if not data:
        raise ImageRefused("image_empty")
    if len(data) > max_bytes:
        raise ImageRefused("image_too_large", limit=_megabytes(max_bytes))
    kind = sniff_type(data)
    if kind is None or MARKUP.search(data[:HEAD_BYTES]):
        raise ImageRefused("image_unsupported_type")
    walk = {JPEG: _jpeg, PNG: _png, GIF: _gif, WEBP: _webp}[kind]
    try:
        width, height, end = walk(data)
    except (_Damaged, struct.error, IndexError):
        raise ImageRefused("image_damaged") from None
    trailing = data[end:]
    if trailing and (kind is not JPEG or MARKUP.search(trailing)):
        # after a JPEG's end, a camera's own data is allowed; after the others, nothing is
        raise ImageRefused("image_damaged" if kind is not JPEG else "image_unsupported_type")
    if width < 1 or height < 1:
        raise ImageRefused("image_damaged")
    if width * height > MAX_PIXELS:
        raise ImageRefused("image_too_many_pixels", limit=MAX_PIXELS // 1_000_000)
    return ImageInfo(kind, width, height, len(data))


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:g}"


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise _Damaged()


def _png(data: bytes) -> tuple[int, int, int]:
    at = len(PNG_SIGNATURE)
    width = height = 0
    first = True
    while True:
        _need(data, at + 8)
        length, name = struct.unpack(">I4s", data[at : at + 8])
        end = at + 8 + length + 4  # the chunk's data and its CRC
        _need(data, end)
        if first:
            if name != b"IHDR" or length != 13:
                raise _Damaged()
            width, height = struct.unpack(">II", data[at + 8 : at + 16])
            first = False
        at = end
        if name == b"IEND":
            return width, height, at


def _sub_blocks(data: bytes, at: int) -> int:
    """Past a GIF's run of sub-blocks (size byte, data) ended by a zero size."""
    while True:
        _need(data, at + 1)
        size = data[at]
        at += 1
        if size == 0:
            return at
        _need(data, at + size)
        at += size


def _gif(data: bytes) -> tuple[int, int, int]:
    _need(data, 13)
    width, height, flags = struct.unpack("<HHB", data[6:11])
    at = 13
    if flags & 0x80:  # the global colour table
        at += 3 * (2 ** ((flags & 7) + 1))
    while True:
        _need(data, at + 1)
        block = data[at]
        if block == 0x3B:  # the trailer
            return width, height, at + 1
        if block == 0x21:  # an extension: its label, then sub-blocks
            at = _sub_blocks(data, at + 2)
        elif block == 0x2C:  # an image: descriptor, local colour table, LZW size, data
            _need(data, at + 10)
            local = data[at + 9]
            at += 10
            if local & 0x80:
                at += 3 * (2 ** ((local & 7) + 1))
            at = _sub_blocks(data, at + 1)
        else:
            raise _Damaged()


def _webp(data: bytes) -> tuple[int, int, int]:
    _need(data, 12)
    declared = struct.unpack("<I", data[4:8])[0] + 8
    if declared < 20:
        raise _Damaged()
    _need(data, declared)  # shorter than it says: truncated
    at = 12
    width = height = 0
    first = True
    while at < declared:
        _need(data, at + 8)
        name, size = struct.unpack("<4sI", data[at : at + 8])
        body = at + 8
        _need(data, body + size)
        if first:
            width, height = _webp_size(name, data[body : body + size])
            first = False
        at = body + size + (size & 1)  # chunks are padded to an even size
    if at != declared:
        raise _Damaged()
    return width, height, declared


def _webp_size(name: bytes, chunk: bytes) -> tuple[int, int]:
    if name == b"VP8 ":
        if len(chunk) < 10 or chunk[3:6] != b"\x9d\x01\x2a":
            raise _Damaged()
        w, h = struct.unpack("<HH", chunk[6:10])
        return w & 0x3FFF, h & 0x3FFF
    if name == b"VP8L":
        if len(chunk) < 5 or chunk[0] != 0x2F:
            raise _Damaged()
        bits = struct.unpack("<I", chunk[1:5])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if name == b"VP8X":
        if len(chunk) < 10:
            raise _Damaged()
        w = int.from_bytes(chunk[4:7], "little") + 1
        h = int.from_bytes(chunk[7:10], "little") + 1
        return w, h
    raise _Damaged()


def _jpeg(data: bytes) -> tuple[int, int, int]:
    at = 2
    width = height = 0
    while True:
        _need(data, at + 2)
        if data[at] != 0xFF:
            raise _Damaged()
        while data[at] == 0xFF:  # fill bytes before a marker
            at += 1
            _need(data, at + 1)
        marker = data[at]
        at += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        if marker in (0xD8, 0xD9):
            raise _Damaged()  # a second start, or an end before any scan
        _need(data, at + 2)
        length = struct.unpack(">H", data[at : at + 2])[0]
        if length < 2:
            raise _Damaged()
        _need(data, at + length)
        if marker in JPEG_FRAMES:
            if length < 7:
                raise _Damaged()
            height, width = struct.unpack(">HH", data[at + 3 : at + 7])
        at += length
        if marker == 0xDA:  # the first scan: entropy-coded data follows
            if not width:
                raise _Damaged()  # a scan with no frame header before it
            end = data.rfind(b"\xff\xd9", at)
            if end < 0:
                raise _Damaged()  # truncated: the picture never ends
            return width, height, end + 2
