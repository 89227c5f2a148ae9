"""What the customer's and the agents' picture routes share: reading an upload within the size
limit, and serving a kept picture so that a browser can only ever show it as an image.

Served with the type sniffed from its bytes (checked again as it is sent), `nosniff`, an
inline disposition under a name kefu makes, a Content-Security-Policy that allows nothing
(and sandboxes the page should it be opened on its own), and no caching: after an erasure
the picture is gone for everyone.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from bot.api.errors import ERROR_RESPONSES, ApiError
from bot.attachments.images import TYPES, ImageRefused, sniff_type
from bot.attachments.store import AttachmentNotFound, AttachmentStore
from bot.conversation.events import ImageShared

IMAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "sandbox",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}
IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The picture, with its sniffed type",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in TYPES},
    }
}
UPLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    413: {"model": ApiError, "description": "Larger than the limit (code image_too_large)"},
    409: {
        "model": ApiError,
        "description": "Not allowed in the conversation's status, or the conversation keeps "
        "as many pictures as it may (code image_quota_reached)",
    },
    415: {
        "model": ApiError,
        "description": "Not a JPEG, PNG, GIF or WebP image (code image_unsupported_type)",
    },
}
UPLOAD_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "description": "The picture's bytes as they are (not a form): JPEG, PNG, GIF or WebP. "
        "The type is read from the content; the declared Content-Type and any file name are "
        "ignored. It is kept without its metadata (EXIF, XMP, IPTC, text chunks, comments), "
        "the EXIF orientation aside.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def upload(request: Request, attachments: AttachmentStore | None) -> bytes:
    """The request's body, read no further than one byte past the limit (ImageRefused
    image_too_large beyond it)."""
    if attachments is None:
        return b""  # the service says pictures are off
    limit = attachments.max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ImageRefused("image_too_large", limit=f"{limit / 1_048_576:g}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            break  # check_image says it is too large; the rest is never read
    return bytes(body)


def picture(
    attachments: AttachmentStore | None, event: ImageShared | None, attachment_id: str
) -> Response:
    """The kept picture as a response (AttachmentNotFound when there is none)."""
    if attachments is None or event is None:
        raise AttachmentNotFound(attachment_id)
    content = attachments.read(event.conversation_id, attachment_id)
    kind = sniff_type(content)
    if kind is None or kind.content_type != event.content_type:
        raise AttachmentNotFound(attachment_id)  # not what was accepted: never served
    name = f"picture-{attachment_id[:12]}.{kind.extension}"
    headers = {**IMAGE_HEADERS, "Content-Disposition": f'inline; filename="{name}"'}
    return Response(content, media_type=kind.content_type, headers=headers)
