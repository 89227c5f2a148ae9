"""The customer's side of a conversation: the secret that opens it, and who the customer is.

A conversation's id is no credential: it shows up in logs, screenshots and the agents' console.
Starting a conversation hands the customer a token of its own; only its SHA-256 digest is
stored, and every customer route compares it in constant time. A `customer_id` from the shop's
site names the customer only when the site signed it (hex HMAC-SHA256 with a shared secret);
an unsigned id is kept as a hint for the agents and never joins one conversation to another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bot.conversation.store import Conversation, ConversationNotFound

TOKEN_BYTES = 32


class SignatureInvalid(ValueError):
    """A customer_id_signature that does not verify (or one sent with no secret to check)."""

    code = "customer_signature_invalid"

    def __init__(self) -> None:
        super().__init__("the customer_id_signature does not match the customer_id")


@dataclass(frozen=True)
class Identity:
    customer_id: str | None  # signed by the shop: names the customer
    hint: str | None  # unsigned: what the caller said, for agents to read


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh customer token and the digest to store in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def sign_customer_id(customer_id: str, secret: str) -> str:
    """What the shop's site sends as customer_id_signature for `customer_id`."""
    return hmac.new(secret.encode("utf-8"), customer_id.encode("utf-8"), hashlib.sha256).hexdigest()


class CustomerAccess:
    def __init__(self, customer_id_secret: str | None) -> None:
        self._secret = customer_id_secret or None

    def identify(self, customer_id: str | None, signature: str | None) -> Identity:
        """Who the customer is: a signed id names them, an unsigned one is only a hint.
        Raises SignatureInvalid for a signature that does not verify."""
        if signature is None:
            return Identity(customer_id=None, hint=customer_id or None)
        if not customer_id or self._secret is None:
            raise SignatureInvalid()
        expected = sign_customer_id(customer_id, self._secret)
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise SignatureInvalid()
        return Identity(customer_id=customer_id, hint=None)

    def check(self, conversation: Conversation, token: str | None) -> None:
        """Raises ConversationNotFound unless `token` opens the conversation: a wrong token
        learns nothing, not even that the conversation exists."""
        stored = conversation.token_digest
        given = token_digest(token) if token else ""
        if not stored or not hmac.compare_digest(stored, given):
            raise ConversationNotFound(conversation.id)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
