"""LINE Messaging API: the webhook's signature and events, replies, pushes and profiles.

Sent with httpx rather than the official line-bot-sdk (v3.27): the SDK requires
python-dateutil < 3, while chromadb's Kubernetes client requires python-dateutil >= 3, so the
two cannot be installed together; kefu needs three JSON endpoints of the API (reply, push,
profile), whose requests are small enough to write out.

- The signature (X-Line-Signature) is the base64 HMAC-SHA256 of the raw body with the channel
  secret, compared in constant time before the body is parsed.
- Answers go with the event's reply token while it is fresh (free); when the token is too old
  or LINE refuses it, they go by push, which counts against the shop's monthly quota.
- A picture the customer sends (kept by LINE, `contentProvider.type` "line") is downloaded from
  the content API (`content_base_url`, api-data.line.me) for the agents; others (stickers,
  videos, pictures kept elsewhere) get a polite answer.
- A call carries at most 5 messages and a text at most 5,000 characters: longer texts are
  split, and more messages take more calls, in order. A push carries an X-Line-Retry-Key, so
  the one retry after a lost answer is not delivered twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.channels.base import (
    Action,
    Choice,
    Delivery,
    Inbound,
    InboundKind,
    Outgoing,
    Profile,
    WebhookRejected,
)
from bot.channels.limits import batches, label, split_text
from bot.channels.settings import LineSettings

log = logging.getLogger(__name__)

NAME = "line"
MAX_MESSAGES_PER_CALL = 5
MAX_TEXT_UNITS = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL_CHARS = 20
MAX_ACTION_TEXT_CHARS = 300  # a message action's text, a postback's data and displayText
SIGNATURE_HEADER = "x-line-signature"


def signature(body: bytes, secret: str) -> str:
    """X-Line-Signature of `body`: base64 of its HMAC-SHA256 with the channel secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class LineChannel:
    name = NAME

    def __init__(self, settings: LineSettings, client: httpx.Client | None = None) -> None:
        if settings.channel_secret is None or settings.channel_access_token is None:
            raise ValueError("LINE needs KEFU_LINE__CHANNEL_SECRET and ..._CHANNEL_ACCESS_TOKEN")
        self._secret = settings.channel_secret.get_secret_value()
        self._content_url = settings.content_base_url.rstrip("/")
        self._window = timedelta(seconds=settings.reply_window_s)
        token = settings.channel_access_token.get_secret_value()
        self._http = client or httpx.Client(
            base_url=settings.api_base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    # --- what arrives ---

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            return False
        return hmac.compare_digest(signature(body, self._secret).encode(), given.encode())

    def parse(self, body: bytes) -> list[Inbound]:
        try:
            data = json.loads(body)
            events = data["events"]
            if not isinstance(events, list):
                raise TypeError("events is not a list")
        except (ValueError, KeyError, TypeError) as problem:
            raise WebhookRejected(f"not a LINE webhook body: {problem}") from None
        found: list[Inbound] = []
        for event in events:
            inbound = _inbound(event) if isinstance(event, dict) else None
            if inbound is not None:
                found.append(inbound)
        return found

    # --- what goes out ---

    def send(
        self,
        recipient: str,
        messages: Sequence[Outgoing],
        reply_token: str | None = None,
        received_at: datetime | None = None,
    ) -> Delivery:
        objects = [obj for message in messages for obj in _line_messages(message)]
        if not objects:
            return Delivery()
        replied = pushed = failed = 0
        calls = list(batches(objects, MAX_MESSAGES_PER_CALL))
        fresh = reply_token is not None and _fresh(received_at, self._window)
        if fresh and self._reply(str(reply_token), calls[0]):
            replied, calls = 1, calls[1:]
        for call in calls:
            if self._push(recipient, call):
                pushed += 1
            else:
                failed += 1
        return Delivery(replied=replied, pushed=pushed, failed=failed)

    def profile(self, sender_id: str) -> Profile | None:
        try:
            response = self._http.get(f"/v2/bot/profile/{sender_id}")
        except httpx.HTTPError as error:
            log.warning("line.profile.unreachable error=%s", type(error).__name__)
            return None
        if response.status_code != 200:
            log.warning("line.profile.refused status=%d", response.status_code)
            return None
        data = response.json()
        return Profile(data.get("displayName"), _language(data.get("language")))

    def content(self, inbound: Inbound, max_bytes: int) -> bytes | None:
        message_id = inbound.metadata.get("message_id")
        if inbound.kind != InboundKind.IMAGE or not isinstance(message_id, str):
            return None
        url = f"{self._content_url}/v2/bot/message/{message_id}/content"
        body = bytearray()
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    log.warning("line.content.refused status=%d", response.status_code)
                    return None
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        break  # too large: the check says so, the rest is never read
        except httpx.HTTPError as error:
            log.warning("line.content.unreachable error=%s", type(error).__name__)
            return None
        return bytes(body)

    def _reply(self, reply_token: str, objects: list[dict[str, Any]]) -> bool:
        try:
            response = self._http.post(
                "/v2/bot/message/reply", json={"replyToken": reply_token, "messages": objects}
            )
        except httpx.HTTPError as error:
            # unknown whether it arrived; a push could say it twice, but silence is worse
            log.warning("line.reply.unreachable error=%s", type(error).__name__)
            return False
        if response.status_code == 200:
            return True
        log.info("line.reply.refused status=%d fallback=push", response.status_code)
        return False

    def _push(self, recipient: str, objects: list[dict[str, Any]]) -> bool:
        body = {"to": recipient, "messages": objects}
        headers = {"X-Line-Retry-Key": str(uuid.uuid4())}
        for attempt in (1, 2):
            try:
                response = self._http.post("/v2/bot/message/push", json=body, headers=headers)
            except httpx.HTTPError as error:
                log.warning(
                    "line.push.unreachable attempt=%d error=%s", attempt, type(error).__name__
                )
                continue
            # 409: the retry key was accepted before (the first answer was lost)
            if response.status_code in (200, 409):
                return True
            if response.status_code < 500:
                break
        log.error("line.push.failed messages=%d", len(objects))
        return False


def _fresh(received_at: datetime | None, window: timedelta) -> bool:
    return received_at is None or datetime.now(UTC) - received_at <= window


def _language(tag: object) -> str | None:
    if not isinstance(tag, str):
        return None
    tag = tag.lower()
    if tag.startswith("zh"):
        return "zh"
    if tag.startswith("en"):
        return "en"
    return None


def _inbound(event: dict[str, Any]) -> Inbound | None:
    """One webhook event as kefu's Inbound; None for what kefu does not take (groups, rooms,
    unsend, read receipts, ...)."""
    source = event.get("source") or {}
    sender = source.get("userId") if source.get("type") == "user" else None
    if not isinstance(sender, str) or not sender:
        return None
    kind = event.get("type")
    timestamp = event.get("timestamp")
    at = (
        datetime.fromtimestamp(timestamp / 1000, UTC)
        if isinstance(timestamp, int | float)
        else None
    )
    base: dict[str, Any] = {
        "channel": NAME,
        "sender_id": sender,
        "event_id": str(event.get("webhookEventId") or ""),
        "reply_token": event.get("replyToken"),
        "at": at,
    }
    redelivery = bool((event.get("deliveryContext") or {}).get("isRedelivery"))
    if kind == "message":
        message = event.get("message") or {}
        mtype = str(message.get("type") or "")
        metadata = {
            "message_type": mtype,
            "message_id": message.get("id"),
            "redelivery": redelivery,
        }
        if mtype == "text" and isinstance(message.get("text"), str):
            return Inbound(kind=InboundKind.TEXT, text=message["text"], metadata=metadata, **base)
        provider = (message.get("contentProvider") or {}).get("type")
        if mtype == "image" and provider == "line" and isinstance(message.get("id"), str):
            return Inbound(kind=InboundKind.IMAGE, metadata=metadata, **base)
        return Inbound(kind=InboundKind.UNSUPPORTED, metadata=metadata, **base)
    if kind == "postback":
        data = (event.get("postback") or {}).get("data")
        if isinstance(data, str):
            return Inbound(kind=InboundKind.POSTBACK, text=data, **base)
        return None
    if kind == "follow":
        return Inbound(kind=InboundKind.FOLLOW, **base)
    if kind == "unfollow":
        return Inbound(kind=InboundKind.UNFOLLOW, **base)
    return None


def _line_messages(message: Outgoing) -> list[dict[str, Any]]:
    """An Outgoing as LINE text messages, split to fit; its buttons on the last one."""
    parts = split_text(message.text, MAX_TEXT_UNITS)
    objects: list[dict[str, Any]] = [{"type": "text", "text": part} for part in parts]
    if message.choices and objects:
        items = [_quick_reply(choice) for choice in message.choices[:MAX_QUICK_REPLIES]]
        objects[-1]["quickReply"] = {"items": items}
    return objects


def _quick_reply(choice: Choice) -> dict[str, Any]:
    name = label(choice.label, MAX_LABEL_CHARS)
    if choice.action == Action.SAY:
        text = choice.value[:MAX_ACTION_TEXT_CHARS]
        action = {"type": "message", "label": name, "text": text}
    else:
        action = {
            "type": "postback",
            "label": name,
            "data": choice.value[:MAX_ACTION_TEXT_CHARS],
            "displayText": choice.label[:MAX_ACTION_TEXT_CHARS],
        }
    return {"type": "action", "action": action}
