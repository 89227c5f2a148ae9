"""Real pictures for tests, drawn with Pillow in each format kefu takes, and the files that
pretend to be pictures."""

from __future__ import annotations

import io

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
