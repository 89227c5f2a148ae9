"""Real pictures for tests, drawn with Pillow in each format kefu takes, and the files that
pretend to be pictures; photos as phones and editors leave them, with their metadata."""

from __future__ import annotations

import io
import struct

from PIL import Image

FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}


def picture(fmt: str = "png", size: tuple[int, int] = (40, 30), **options: object) -> bytes:
    """A small photo-like picture (a gradient with a mark) in `fmt`."""
    image = Image.new("RGB", size)
    for x in range(size[0]):
        for y in range(size[1]):
            image.putpixel((x, y), ((x * 7) % 256, (y * 5) % 256, (x * y) % 256))
    out = io.BytesIO()
    image.save(out, FORMATS[fmt], **options)
    return out.getvalue()


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)
HTML = b"<!doctype html><html><body><script>fetch('/api/agent/queue')</script></body></html>"


# What a phone or an editor writes besides the pixels, which kefu must not keep.
SERIAL = "SN-4711-CAMERA"
OWNER = "Chen Mei-Ling"
MAKER = "PhoneMaker"
SECRETS = (SERIAL.encode(), OWNER.encode(), MAKER.encode())
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description dc:creator="'
    + OWNER.encode()
    + b'"/></rdf:RDF></x:xmpmeta>'
)


def exif_with_gps(orientation: int | None = 6) -> bytes:
    """An EXIF block (with its Exif header) a phone would write: position, camera, serial,
    owner, date, and the orientation."""
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x010F] = MAKER  # Make
    exif[0x0110] = "Model X"
    exif[0x013B] = OWNER  # Artist
    exif[0x8298] = f"(c) {OWNER}"  # Copyright
    exif[0x0132] = "2026:11:30 10:15:00"  # DateTime
    details = exif.get_ifd(0x8769)  # the Exif IFD
    details[0xA431] = SERIAL  # BodySerialNumber
    details[0xA430] = OWNER  # CameraOwnerName
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (25.0, 2.0, 1.5), 3: "E", 4: (121.0, 33.0, 54.0)})
    return exif.tobytes()


def pixels(data: bytes) -> list[bytes]:
    """Each frame's decoded pixels, as Pillow reads them."""
    image = Image.open(io.BytesIO(data))
    frames = []
    for n in range(getattr(image, "n_frames", 1)):
        image.seek(n)
        frames.append(image.convert("RGBA").tobytes())
    return frames


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def phone_jpeg(orientation_value: int | None = 6, **options: object) -> bytes:
    """A JPEG as a phone and an editor leave it: EXIF with GPS, XMP, IPTC, a comment, a
    maker's segment, an ICC profile, and a second picture with its own EXIF after the end."""
    base = picture(
        "jpeg", (48, 40), exif=exif_with_gps(orientation_value), icc_profile=b"\x00" * 132,
        **options,
    )  # fmt: skip
    extra = (
        segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)
        + segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + OWNER.encode())
        + segment(0xFE, b"taken at home by " + OWNER.encode())
        + segment(0xEC, b"Ducky\x00\x01" + OWNER.encode())
    )
    depth_map = picture("jpeg", (8, 8), exif=exif_with_gps(1))
    return base[:2] + extra + base[2:] + depth_map
