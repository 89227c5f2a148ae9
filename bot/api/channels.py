"""The messaging platforms' webhooks: LINE and Facebook Messenger.

The raw body's signature is checked before anything else reads it: a missing or wrong one
gets 401 and nothing happens. A valid webhook is answered at once; its events are handled in
the background (`ChannelRelay`). A channel whose settings are missing is off: 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.api.errors import ERROR_RESPONSES, ApiError, error
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


class ChannelState(BaseModel):
    name: str = Field(description="line or messenger")
    enabled: bool = Field(description="Whether its settings are given (else its webhook is 404)")
    webhook_url: str = Field(description="The address to paste into LINE's or Meta's console")
    settings: list[str] = Field(description="The settings it needs")


class ChannelStates(BaseModel):
    channels: list[ChannelState]


class ChannelContact(BaseModel):
    channel: str
    sender_id: str
    display_name: str | None = Field(description="The customer's name on the platform")
    language: str | None
    following: bool | None = Field(description="LINE: whether the customer follows the account")


CHANNEL_SETTINGS = {
    "line": ["KEFU_LINE__CHANNEL_SECRET", "KEFU_LINE__CHANNEL_ACCESS_TOKEN"],
    "messenger": [
        "KEFU_MESSENGER__APP_SECRET",
        "KEFU_MESSENGER__VERIFY_TOKEN",
        "KEFU_MESSENGER__PAGE_ACCESS_TOKEN",
    ],
}


def router(relay: ChannelRelay | None, accounts: Accounts) -> APIRouter:
    """The webhooks; `relay` is None when no channel is set up (every webhook answers 404).
    Also each channel's state for admins, and a channel customer's contact for agents."""
    from bot.api.auth import requires

    admin = Depends(requires(accounts, Role.ADMIN))
    agent = Depends(requires(accounts, Role.AGENT))
    api = APIRouter(tags=["channels"])

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

    @api.get("/api/admin/channels", response_model=ChannelStates, responses=ERROR_RESPONSES)
    def states(request: Request, _: User = admin) -> ChannelStates:
        """Each messaging channel: on or off, and the webhook address for the platform."""
        return ChannelStates(
            channels=[
                ChannelState(
                    name=name,
                    enabled=relay is not None and relay.channel(name) is not None,
                    webhook_url=str(request.url_for(f"{name}_webhook")),
                    settings=needed,
                )
                for name, needed in CHANNEL_SETTINGS.items()
            ]
        )

    @api.get(
        "/api/agent/channel-contacts/{customer_id}",
        response_model=ChannelContact,
        responses=ERROR_RESPONSES,
    )
    def contact(
        customer_id: Annotated[
            str, Path(max_length=200, description="The conversation's customer id: line:U…")
        ],
        _: User = agent,
    ) -> Response:
        """The name and language a channel's platform gave for the customer."""
        channel, _sep, sender = customer_id.partition(":")
        found = relay.records.contact(channel, sender) if relay is not None and sender else None
        if found is None:
            return error(404, "contact_not_found", "no channel contact for this customer")
        public = ChannelContact(
            channel=found.channel,
            sender_id=found.sender_id,
            display_name=found.display_name,
            language=found.language,
            following=found.following,
        )
        return JSONResponse(public.model_dump())

    @api.post(
        "/channels/line/webhook",
        response_model=WebhookAccepted,
        responses=WEBHOOK_RESPONSES,
        summary="LINE Messaging API webhook",
    )
    async def line_webhook(request: Request) -> Response:
        """Events from LINE, signed with X-Line-Signature (base64 HMAC-SHA256 of the body with
        the channel secret)."""
        return await take("line", request)

    @api.get(
        "/channels/messenger/webhook",
        response_model=None,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "The challenge, echoed",
            },
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
        "/channels/messenger/webhook",
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
