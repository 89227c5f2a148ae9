"""A picture is kept without what it says about where, with what and by whom it was taken:
real JPEG, PNG, WebP and GIF files written with a phone's metadata (GPS position, camera serial,
owner) come out as valid images of the very same pixels, with none of it left; the EXIF
orientation alone stays, so that a phone's photo is not shown on its side."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.attachments.images import GIF, JPEG, PNG, WEBP, check_image
from bot.attachments.metadata import orientation, orientation_only, without_metadata
from tests.bot.attachments.pictures import (
    OWNER,
    SECRETS,
    SERIAL,
    XMP,
    exif_with_gps,
    phone_jpeg,
    picture,
    pixels,
    segment,
)

LIMIT = 5 * 1_048_576
GPS_IFD = struct.pack(">H", 0x8825), struct.pack("<H", 0x8825)


def metadata_free(data: bytes) -> None:
    """No trace of the owner, the camera, the position, the editor's XMP."""
    for secret in SECRETS:
        assert secret not in data, secret
    assert b"xmpmeta" not in data and b"adobe:ns:meta" not in data
    exif = Image.open(io.BytesIO(data)).getexif()
    assert set(exif) <= {0x0112}, dict(exif)  # the orientation, nothing else
    assert not exif.get_ifd(0x8825) and not exif.get_ifd(0x8769)  # no GPS, no Exif IFD


def png_chunk(name: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(name + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + name + body + struct.pack(">I", crc)


def png_chunks(data: bytes) -> list[bytes]:
    names, at = [], 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        names.append(data[at + 4 : at + 8])
        at += 12 + length
    return names


@pytest.mark.parametrize(
    "options", [{}, {"progressive": True}, {"restart_marker_blocks": 1}], ids=str
)
def test_a_phone_s_jpeg_keeps_its_pixels_and_orientation_only(options: dict) -> None:
    sent = phone_jpeg(**options)
    assert all(s in sent for s in SECRETS)  # the file does carry it all
    assert check_image(sent, LIMIT).type is JPEG

    kept = without_metadata(sent, JPEG)
    info = check_image(kept, LIMIT)
    assert (info.width, info.height) == (48, 40)
    assert pixels(kept) == pixels(picture("jpeg", (48, 40), **options))  # the same bitstream
    assert pixels(kept) == pixels(sent)
    metadata_free(kept)
    assert Image.open(io.BytesIO(kept)).getexif()[0x0112] == 6  # still turned as shot
    assert kept.endswith(b"\xff\xd9") and kept.count(b"\xff\xd8\xff") == 1  # the depth map went
    assert b"ICC_PROFILE\x00" in kept and kept[2:4] == b"\xff\xe0"  # colour and JFIF stay
    assert b"Ducky" not in kept and b"Photoshop" not in kept
    assert len(kept) < len(sent)


def test_a_jpeg_shown_as_stored_keeps_no_exif_at_all() -> None:
    for value in (None, 1):
        kept = without_metadata(phone_jpeg(value), JPEG)
        assert b"Exif\x00\x00" not in kept
        metadata_free(kept)
        assert not Image.open(io.BytesIO(kept)).getexif()


def test_a_jpeg_without_metadata_is_kept_byte_for_byte() -> None:
    plain = picture("jpeg", (30, 20))
    assert without_metadata(plain, JPEG) == plain


def phone_png() -> bytes:
    """A PNG with an author, a comment, compressed and international text, EXIF with GPS, a
    time, a private chunk; colour (gAMA, pHYs) that stays."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", OWNER)
    info.add_text("Comment", f"serial {SERIAL}", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), lang="", tkey="")
    data = picture("png", (48, 40), pnginfo=info, exif=exif_with_gps(3), dpi=(72, 72))
    iend = data.rindex(b"IEND") - 4
    late = (
        png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 11, 30, 10, 15, 0))
        + png_chunk(b"prVt", b"maker data " + OWNER.encode())
        + png_chunk(b"gAMA", struct.pack(">I", 45455))
    )
    return data[:iend] + late + data[iend:]


def test_a_png_keeps_its_pixels_and_drops_its_text_exif_and_time() -> None:
    sent = phone_png()
    names = png_chunks(sent)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt"} <= set(names)
    kept = without_metadata(sent, PNG)
    assert check_image(kept, LIMIT).type is PNG
    assert pixels(kept) == pixels(sent)
    metadata_free(kept)
    left = png_chunks(kept)
    assert not {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"prVt"} & set(left)
    assert left[0] == b"IHDR" and left[-1] == b"IEND"
    assert b"pHYs" in left and b"gAMA" in left  # what changes how it is shown stays
    assert left.count(b"eXIf") == 1 and Image.open(io.BytesIO(kept)).getexif()[0x0112] == 3
    assert not Image.open(io.BytesIO(kept)).text  # no text fields at all


def test_a_png_with_a_script_in_a_late_text_chunk_is_kept_without_it() -> None:
    data = picture("png", (120, 90))  # larger than a KiB: the chunk lands far past it
    script = b"<script>fetch('/api/agent/queue').then(r => r.text())</script>"
    iend = data.rindex(b"IEND") - 4
    sent = data[:iend] + png_chunk(b"tEXt", b"Comment\x00" + script) + data[iend:]
    assert sent.index(b"<script") > 1024
    assert check_image(sent, LIMIT).type is PNG  # taken: the markup is past the first KiB
    kept = without_metadata(sent, PNG)
    assert b"<script" not in kept and b"tEXt" not in kept
    assert kept == data  # exactly the picture without the chunk
    assert pixels(kept) == pixels(sent)


def riff_chunks(data: bytes) -> list[bytes]:
    names, at = [], 12
    while at < len(data):
        name, size = struct.unpack("<4sI", data[at : at + 8])
        names.append(name)
        at += 8 + size + (size & 1)
    return names


@pytest.mark.parametrize("lossless", [False, True])
def test_a_webp_drops_exif_and_xmp_with_its_size_and_flags_right(lossless: bool) -> None:
    sent = picture("webp", (48, 40), exif=exif_with_gps(8), xmp=XMP, lossless=lossless)
    assert {b"VP8X", b"EXIF", b"XMP "} <= set(riff_chunks(sent))
    kept = without_metadata(sent, WEBP)
    assert check_image(kept, LIMIT).type is WEBP
    assert struct.unpack("<I", kept[4:8])[0] == len(kept) - 8  # the RIFF size
    assert pixels(kept) == pixels(sent)
    metadata_free(kept)
    assert b"XMP " not in riff_chunks(kept)
    flags = kept[20]
    assert not flags & 0x04  # XMP flag off
    assert flags & 0x08 and riff_chunks(kept).count(b"EXIF") == 1  # the orientation's EXIF
    assert orientation(kept[kept.index(b"EXIF") + 8 :]) == 8

    without_turn = picture("webp", (48, 40), exif=exif_with_gps(None), xmp=XMP)
    kept = without_metadata(without_turn, WEBP)
    assert b"EXIF" not in riff_chunks(kept) and not kept[20] & 0x0C
    assert struct.unpack("<I", kept[4:8])[0] == len(kept) - 8
    assert pixels(kept) == pixels(without_turn)


def test_a_gif_drops_comments_and_foreign_application_data_and_keeps_its_animation() -> None:
    frames = [Image.new("RGB", (12, 8), c) for c in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], loop=0, duration=120,
        comment=b"sent by " + OWNER.encode(),
    )  # fmt: skip
    sent = out.getvalue()
    flags = sent[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    xmp_app = b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP)]) + XMP + b"\x00"
    sent = sent[:at] + xmp_app + sent[at:]
    assert check_image(sent, LIMIT).type is GIF
    kept = without_metadata(sent, GIF)
    assert check_image(kept, LIMIT).type is GIF
    metadata_free(kept)
    assert b"\x21\xfe" not in kept  # no comment extension
    assert pixels(kept) == pixels(sent) and len(pixels(kept)) == 3
    shown = Image.open(io.BytesIO(kept))
    assert shown.info.get("loop") == 0 and shown.info.get("duration") == 120
    assert b"NETSCAPE2.0" in kept


def test_the_orientation_block_reads_back() -> None:
    for value in range(2, 9):
        assert orientation(orientation_only(value)) == value
        assert orientation(b"Exif\x00\x00" + orientation_only(value)) == value
    assert orientation(exif_with_gps(1)) is None
    assert orientation(exif_with_gps(None)) is None
    assert orientation(b"Exif\x00\x00garbage") is None


def test_a_jfif_thumbnail_and_fill_bytes_do_not_survive() -> None:
    plain = picture("jpeg", (30, 20))
    assert plain[2:4] == b"\xff\xe0"
    length = struct.unpack(">H", plain[4:6])[0]
    jfif = plain[6 : 6 + 12]  # JFIF, version, units, densities
    thumbnail = bytes([2, 2]) + OWNER.encode()[:12]  # 2 x 2 RGB pixels: 12 bytes
    sent = plain[:2] + segment(0xE0, jfif + thumbnail) + b"\xff\xff" + plain[4 + length :]
    assert check_image(sent, LIMIT).type is JPEG
    kept = without_metadata(sent, JPEG)
    assert OWNER.encode()[:12] not in kept
    assert kept == plain  # the thumbnail and the fill bytes gone, all else as it was
