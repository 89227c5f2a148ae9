"""The messaging platforms' webhooks: LINE and Facebook Messenger.

The raw body's signature is checked before anything else reads it: a missing or wrong one
gets 401 and nothing happens. A valid webhook is answered at once; its events are handled in
the background (`ChannelRelay`). A channel whose settings are missing is off: 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from bot.api.errors import ApiError, error
from bot.channels.base import WebhookRejected
from bot.channels.messenger import MessengerChannel
from bot.channels.relay import ChannelRelay

# A webhook body larger than this is refused unread (LINE and Meta send a few kilobytes).
MAX_WEBHOOK_BYTES = 1_000_000

WEBHOOK_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ApiError, "description": "Signed, but not the platform's webhook body"},
    401: {"model": ApiError, "description": "Missing or wrong signature (code bad_signature)"},
    404: {"model": ApiError, "description": "The channel is off (code channel_off)"},
    413: {"model": ApiError, "description": "Body too large (code too_large)"},
}


class WebhookAccepted(BaseModel):
    accepted: int = Field(description="Events queued (a redelivered event is not queued again)")


def router(relay: ChannelRelay | None) -> APIRouter:
    """The webhooks; `relay` is None when no channel is set up (every webhook answers 404)."""
    api = APIRouter(prefix="/channels", tags=["channels"])

    async def take(name: str, request: Request) -> Response:
        channel = relay.channel(name) if relay is not None else None
        if relay is None or channel is None:
            return error(404, "channel_off", f"the {name} channel is not set up")
        body = await _body(request)
        if body is None:
            return error(413, "too_large", "the webhook body is too large")
        if not channel.verify(body, request.headers):
            return error(401, "bad_signature", "the webhook's signature is missing or wrong")
        try:
            events = channel.parse(body)
        except WebhookRejected as rejected:
            return error(400, "invalid_webhook", str(rejected))
        accepted = await run_in_threadpool(relay.accept, events)
        return JSONResponse(WebhookAccepted(accepted=accepted).model_dump())

    @api.post(
        "/line/webhook",
        response_model=WebhookAccepted,
        responses=WEBHOOK_RESPONSES,
        summary="LINE Messaging API webhook",
    )
    async def line_webhook(request: Request) -> Response:
        """Events from LINE, signed with X-Line-Signature (base64 HMAC-SHA256 of the body with
        the channel secret)."""
        return await take("line", request)

    @api.get(
        "/messenger/webhook",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"text/plain": {}}, "description": "The challenge, echoed"},
            403: {"model": ApiError, "description": "Wrong verify token (code forbidden)"},
            404: {"model": ApiError, "description": "The channel is off (code channel_off)"},
        },
        summary="Meta's webhook subscription check",
    )
    def messenger_check(
        mode: Annotated[str | None, Query(alias="hub.mode", max_length=40)] = None,
        token: Annotated[str | None, Query(alias="hub.verify_token", max_length=500)] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=500)] = None,
    ) -> Response:
        """Answers hub.challenge when hub.mode is subscribe and hub.verify_token is kefu's."""
        channel = relay.channel("messenger") if relay is not None else None
        if not isinstance(channel, MessengerChannel):
            return error(404, "channel_off", "the messenger channel is not set up")
        answer = channel.challenge(mode, token, challenge)
        if answer is None:
            return error(403, "forbidden", "the verify token does not match")
        return PlainTextResponse(answer)

    @api.post(
        "/messenger/webhook",
        response_model=WebhookAccepted,
        responses=WEBHOOK_RESPONSES,
        summary="Facebook Messenger webhook",
    )
    async def messenger_webhook(request: Request) -> Response:
        """Events from Messenger, signed with X-Hub-Signature-256 ("sha256=" and the hex
        HMAC-SHA256 of the body with the app secret)."""
        return await take("messenger", request)

    return api


async def _body(request: Request) -> bytes | None:
    """The raw body, or None past MAX_WEBHOOK_BYTES (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
