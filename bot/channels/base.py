"""What every channel has in common: the message that arrives, the message that goes out, and
the `Channel` protocol a platform's module implements.

A channel knows its platform only: how a webhook is verified and read, and how messages are
sent. Which conversation a message belongs to and what the bot answers is decided elsewhere
(`bot/channels/relay.py`), the same for every channel. Adding a channel is one module that
implements `Channel` and one webhook route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class InboundKind(StrEnum):
    TEXT = "text"  # the customer wrote something
    POSTBACK = "postback"  # the customer tapped one of kefu's buttons
    FOLLOW = "follow"  # the customer added the account (LINE) or opened the chat
    UNFOLLOW = "unfollow"  # the customer blocked or removed the account
    IMAGE = "image"  # a picture the platform keeps for kefu to download (`Channel.content`)
    UNSUPPORTED = "unsupported"  # a sticker, image, location, ... that kefu cannot read


@dataclass(frozen=True)
class Inbound:
    """One thing a customer did on a platform, as kefu understands it: the customer message
    {text, sender id, channel, metadata} for the conversation service, or a button, a follow."""

    channel: str
    sender_id: str
    kind: InboundKind
    text: str = ""  # the message, or the button's data for a postback
    event_id: str = ""  # the platform's id of the event: a redelivered event has the same
    reply_token: str | None = None  # LINE: answers this event for free, for a short while
    at: datetime | None = None  # when the platform received it
    metadata: dict[str, Any] = field(default_factory=dict)  # message type, platform ids


class Action(StrEnum):
    SAY = "say"  # tapping sends `value` as the customer's own message
    POSTBACK = "postback"  # tapping sends `value` back to kefu as data, not as a message


@dataclass(frozen=True)
class Choice:
    """A button under a message (LINE and Messenger quick replies)."""

    label: str
    action: Action
    value: str


@dataclass(frozen=True)
class Outgoing:
    """One message kefu says, before a channel puts it in its platform's form (and splits it
    where the platform's limits require)."""

    text: str
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Profile:
    display_name: str | None
    language: str | None  # "zh" or "en" when the platform tells, else None


@dataclass(frozen=True)
class Delivery:
    """How a batch of messages went out: by the free reply or by push (counted in calls)."""

    replied: int = 0  # calls answered with the reply token
    pushed: int = 0  # calls sent by push (or the Send API)
    failed: int = 0  # calls the platform refused or that did not reach it


class WebhookRejected(ValueError):
    """The webhook's body is not what the platform sends (after its signature was valid)."""


class Channel(Protocol):
    name: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Whether the raw body carries the platform's valid signature. Called before the
        body is parsed; compares in constant time."""
        ...

    def parse(self, body: bytes) -> list[Inbound]:
        """The events of a verified webhook body. Raises WebhookRejected."""
        ...

    def send(
        self,
        recipient: str,
        messages: Sequence[Outgoing],
        reply_token: str | None = None,
        received_at: datetime | None = None,
    ) -> Delivery:
        """Send `messages` to the customer, in order, within the platform's limits."""
        ...

    def profile(self, sender_id: str) -> Profile | None:
        """The customer's name and language on the platform, None when it cannot tell."""
        ...

    def content(self, inbound: Inbound, max_bytes: int) -> bytes | None:
        """The bytes of a picture the customer sent (an IMAGE inbound), read no further than
        one byte past `max_bytes`; None when the platform cannot give them."""
        ...

    def close(self) -> None: ...
