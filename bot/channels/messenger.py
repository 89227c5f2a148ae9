"""Facebook Messenger: the webhook's verification and signature, messages and postbacks in,
the Send API out (with quick replies), over httpx (Meta ships no Python SDK).

- Meta checks the webhook with a GET carrying hub.mode=subscribe, hub.verify_token and
  hub.challenge: kefu answers the challenge when the token is its own.
- Each POST is signed: X-Hub-Signature-256 is "sha256=" and the hex HMAC-SHA256 of the raw body
  with the app secret, compared in constant time before the body is parsed.
- A text is at most 2,000 characters (longer ones are split, in order); at most 13 quick
  replies, their titles at most 20 characters. Messenger has no reply token: every answer is a
  Send API call, within the 24-hour window that the customer's message opens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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
from bot.channels.limits import label, split_text
from bot.channels.settings import MessengerSettings

log = logging.getLogger(__name__)

NAME = "messenger"
MAX_TEXT_UNITS = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE_CHARS = 20
MAX_PAYLOAD_CHARS = 1000
SIGNATURE_HEADER = "x-hub-signature-256"
# A quick reply's payload says what tapping it means: "say:<text>" is the customer's own words.
SAY_PREFIX = "say:"


def signature(body: bytes, secret: str) -> str:
    """X-Hub-Signature-256 of `body`: "sha256=" and its hex HMAC-SHA256 with the app secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class MessengerChannel:
    name = NAME

    def __init__(self, settings: MessengerSettings, client: httpx.Client | None = None) -> None:
        if not settings.enabled:
            raise ValueError("Messenger needs its app secret, verify token and page token")
        assert settings.app_secret and settings.verify_token and settings.page_access_token
        self._secret = settings.app_secret.get_secret_value()
        self._verify_token = settings.verify_token.get_secret_value()
        token = settings.page_access_token.get_secret_value()
        self._http = client or httpx.Client(
            base_url=settings.graph_api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=settings.timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def challenge(self, mode: str | None, token: str | None, challenge: str | None) -> str | None:
        """The challenge to echo when Meta's subscription check carries kefu's verify token."""
        if mode != "subscribe" or token is None or challenge is None:
            return None
        if not hmac.compare_digest(token.encode(), self._verify_token.encode()):
            return None
        return challenge

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get(SIGNATURE_HEADER)
        if not given:
            return False
        return hmac.compare_digest(signature(body, self._secret).encode(), given.encode())

    def parse(self, body: bytes) -> list[Inbound]:
        try:
            data = json.loads(body)
            if data.get("object") != "page" or not isinstance(data.get("entry"), list):
                raise TypeError("not a page subscription")
        except (ValueError, TypeError, AttributeError) as problem:
            raise WebhookRejected(f"not a Messenger webhook body: {problem}") from None
        found: list[Inbound] = []
        for entry in data["entry"]:
            for event in (entry or {}).get("messaging") or []:
                inbound = _inbound(event) if isinstance(event, dict) else None
                if inbound is not None:
                    found.append(inbound)
        return found

    def send(
        self,
        recipient: str,
        messages: Sequence[Outgoing],
        reply_token: str | None = None,
        received_at: datetime | None = None,
    ) -> Delivery:
        sent = failed = 0
        for message in messages:
            for body in _messenger_messages(message):
                if self._send(recipient, body):
                    sent += 1
                else:
                    failed += 1
        return Delivery(pushed=sent, failed=failed)

    def profile(self, sender_id: str) -> Profile | None:
        try:
            response = self._http.get(f"/{sender_id}", params={"fields": "name"})
        except httpx.HTTPError as error:
            log.warning("messenger.profile.unreachable error=%s", type(error).__name__)
            return None
        if response.status_code != 200:
            log.info("messenger.profile.refused status=%d", response.status_code)
            return None
        return Profile(response.json().get("name"), None)

    def content(self, inbound: Inbound, max_bytes: int) -> bytes | None:
        """Messenger's pictures come as links to Meta's CDN, not taken yet: none."""
        return None

    def _send(self, recipient: str, message: dict[str, Any]) -> bool:
        body = {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": message}
        try:
            response = self._http.post("/me/messages", json=body)
        except httpx.HTTPError as error:
            log.error("messenger.send.unreachable error=%s", type(error).__name__)
            return False
        if response.status_code != 200:
            log.error("messenger.send.refused status=%d", response.status_code)
            return False
        return True


def _inbound(event: dict[str, Any]) -> Inbound | None:
    sender = (event.get("sender") or {}).get("id")
    if not isinstance(sender, str) or not sender:
        return None
    timestamp = event.get("timestamp")
    at = (
        datetime.fromtimestamp(timestamp / 1000, UTC)
        if isinstance(timestamp, int | float)
        else None
    )
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # the page's own message, echoed back
        mid = str(message.get("mid") or "")
        payload = (message.get("quick_reply") or {}).get("payload")
        metadata: dict[str, Any] = {"message_id": mid}
        if isinstance(payload, str):
            if payload.startswith(SAY_PREFIX):
                text = payload[len(SAY_PREFIX) :]
                return _made(sender, mid, at, InboundKind.TEXT, text, metadata)
            return _made(sender, mid, at, InboundKind.POSTBACK, payload, metadata)
        if isinstance(message.get("text"), str) and message["text"]:
            return _made(sender, mid, at, InboundKind.TEXT, message["text"], metadata)
        attachments = message.get("attachments") or [{}]
        first = attachments[0] if isinstance(attachments[0], dict) else {}
        kind = "sticker" if (first.get("payload") or {}).get("sticker_id") else first.get("type")
        metadata["message_type"] = str(kind or "attachment")
        return _made(sender, mid, at, InboundKind.UNSUPPORTED, "", metadata)
    postback = event.get("postback")
    if isinstance(postback, dict) and isinstance(postback.get("payload"), str):
        mid = str(postback.get("mid") or f"postback:{sender}:{timestamp}")
        return _made(sender, mid, at, InboundKind.POSTBACK, postback["payload"], {})
    return None


def _made(
    sender: str,
    event_id: str,
    at: datetime | None,
    kind: InboundKind,
    text: str,
    metadata: dict[str, Any],
) -> Inbound:
    return Inbound(NAME, sender, kind, text, event_id, None, at, metadata)


def _messenger_messages(message: Outgoing) -> list[dict[str, Any]]:
    parts = split_text(message.text, MAX_TEXT_UNITS)
    bodies: list[dict[str, Any]] = [{"text": part} for part in parts]
    if message.choices and bodies:
        bodies[-1]["quick_replies"] = [
            _quick_reply(choice) for choice in message.choices[:MAX_QUICK_REPLIES]
        ]
    return bodies


def _quick_reply(choice: Choice) -> dict[str, Any]:
    payload = SAY_PREFIX + choice.value if choice.action == Action.SAY else choice.value
    return {
        "content_type": "text",
        "title": label(choice.label, MAX_TITLE_CHARS),
        "payload": payload[:MAX_PAYLOAD_CHARS],
    }
