"""What a file is, from its bytes: each format kefu takes is taken whole with its size, and
what is not an image (whatever its name), too large, empty, truncated, or an image and a page
at once, is refused with its code."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.attachments.images import MAX_PIXELS, ImageRefused, check_image, sniff_type
from tests.bot.attachments.pictures import HTML, SVG, picture

LIMIT = 5 * 1_048_576


def refused(data: bytes, limit: int = LIMIT) -> str:
    with pytest.raises(ImageRefused) as caught:
        check_image(data, limit)
    return caught.value.code


@pytest.mark.parametrize(
    ("fmt", "content_type", "options"),
    [
        ("jpeg", "image/jpeg", {}),
        ("jpeg", "image/jpeg", {"progressive": True}),
        ("png", "image/png", {}),
        ("gif", "image/gif", {}),
        ("webp", "image/webp", {}),
        ("webp", "image/webp", {"lossless": True}),
    ],
)
def test_each_format_is_taken_with_its_size(fmt: str, content_type: str, options: dict) -> None:
    data = picture(fmt, (40, 30), **options)
    info = check_image(data, LIMIT)
    assert info.type.content_type == content_type
    assert (info.width, info.height) == (40, 30)
    assert info.size == len(data)


def test_an_animated_gif_and_a_webp_with_metadata_are_taken() -> None:
    from io import BytesIO

    from PIL import Image

    frames = [Image.new("RGB", (12, 8), c) for c in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], loop=0, comment=b"hi")
    assert check_image(out.getvalue(), LIMIT).type.content_type == "image/gif"
    out = BytesIO()
    frames[0].save(out, "WEBP", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00")
    assert (check_image(out.getvalue(), LIMIT).width, 8) == (12, 8)


def test_the_type_comes_from_the_bytes_not_the_name() -> None:
    # what a client calls a file never reaches the check: only its bytes do
    assert sniff_type(picture("png")) is not None
    assert sniff_type(SVG) is None
    assert sniff_type(HTML) is None
    assert refused(SVG) == "image_unsupported_type"  # an SVG renamed defect.png
    assert refused(HTML) == "image_unsupported_type"  # a page renamed photo.jpg
    assert refused(b"%PDF-1.7\n" + b"0" * 100) == "image_unsupported_type"
    assert refused(b"   \n" + picture("png")) == "image_unsupported_type"  # magic not at the start


def test_empty_and_oversized() -> None:
    assert refused(b"") == "image_empty"
    data = picture("png")
    assert check_image(data, len(data)).size == len(data)  # exactly the limit is fine
    with pytest.raises(ImageRefused) as caught:
        check_image(data, len(data) - 1)
    assert caught.value.code == "image_too_large"
    assert "MB" in str(caught.value)
    assert caught.value.values["limit"] == f"{(len(data) - 1) / 1_048_576:g}"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "webp"])
def test_a_truncated_picture_is_damaged(fmt: str) -> None:
    data = picture(fmt, (64, 64))
    for cut in (len(data) // 2, len(data) - 1, 20):
        assert refused(data[:cut]) == "image_damaged", cut


def test_only_a_magic_number_is_no_image() -> None:
    assert refused(b"\x89PNG\r\n\x1a\n" + HTML) == "image_unsupported_type"  # markup up front
    assert refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) == "image_damaged"
    assert refused(b"\xff\xd8\xff\xe0" + b"\x00" * 40) == "image_damaged"
    assert refused(b"GIF89a" + b"\x01" * 40) == "image_damaged"
    assert refused(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image_damaged"


def test_a_polyglot_image_and_page_is_refused() -> None:
    # a picture with a page after its end: a browser guessing the type could run it
    for fmt in ("png", "gif", "webp", "jpeg"):
        data = picture(fmt) + HTML
        assert refused(data) in ("image_damaged", "image_unsupported_type"), fmt

    # markup hidden in the first KiB, where browsers look when they guess
    def with_comment(gif: bytes, text: bytes) -> bytes:
        flags = gif[10]
        at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)  # past the colour table
        return gif[:at] + b"\x21\xfe" + bytes([len(text)]) + text + b"\x00" + gif[at:]

    gif = picture("gif")
    polyglot = with_comment(gif, b"<html><script>alert(1)</script></html>")
    assert refused(polyglot) == "image_unsupported_type"
    # the same place with words and no markup is a valid GIF
    ok = with_comment(gif, b"a defect on the left sleeve, photographed by the customer")
    assert check_image(ok, LIMIT).type.content_type == "image/gif"


def test_a_camera_s_data_after_a_jpeg_is_allowed() -> None:
    data = picture("jpeg") + b"SEFHxxxx\x00\x01\x02 trailer a phone appends"
    assert check_image(data, LIMIT).type.content_type == "image/jpeg"


def test_a_decompression_bomb_is_refused() -> None:
    # a PNG header saying 20000 x 20000 pixels, tiny on disk
    def chunk(name: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(name + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + name + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
    assert MAX_PIXELS < 20_000 * 20_000
    assert refused(bomb) == "image_too_many_pixels"


def test_zero_sized_picture_is_damaged() -> None:
    data = bytearray(picture("png"))
    data[16:24] = struct.pack(">II", 0, 30)  # IHDR's width
    assert refused(bytes(data)) == "image_damaged"


def test_every_refusal_has_texts_in_both_languages() -> None:
    from bot.answering.texts import TEXTS

    for code in (
        "image_empty",
        "image_too_large",
        "image_unsupported_type",
        "image_damaged",
        "image_too_many_pixels",
        "image_quota_reached",
    ):
        assert set(TEXTS[f"error_{code}"]) == {"zh", "en"}
