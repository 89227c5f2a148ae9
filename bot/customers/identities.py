"""One customer across channels: identities linked only on proof, every link an event.

An identity is what a channel proves about who writes: a LINE user id or a Messenger page-scoped
id (the platform signs every webhook), or one widget conversation. A customer id that a shop's
page passes to the widget unsigned is a hint, never an identity. Identities become one customer
only by:

- a one-time code: issued to one identity, typed in the other's channel within its lifetime
  (`KF-` and 6 digits, kept hashed, used once; wrong codes are rate-limited per identity);
- an agent's merge, with a reason.

Every link, merge and split is an event in `identity_events`; an agent can split an identity
off a wrong merge. Nothing is merged on a customer's claim ("I own order #123").
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from bot.access.ratelimit import RateLimited, RateLimiter
from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer
from bot.conversation.store import Conversation, ConversationNotFound, ConversationStore

CHANNEL_PREFIXES = ("line:", "messenger:")
CODE = re.compile(r"^\s*KF[-\s]?(\d{6})\s*$", re.IGNORECASE)

customer_identities = Table(
    "customer_identities",
    metadata,
    Column("identity", String(255), primary_key=True),
    Column("customer", String(64), nullable=False, index=True),
    Column("linked_at", UtcDateTime, nullable=False),
)

identity_events = Table(
    "identity_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),  # linked, merged, split
    Column("identity", String(255), nullable=False, index=True),
    Column("other", String(255), index=True),
    Column("customer", String(64)),
    Column("proof", String(32), nullable=False),  # one_time_code, agent
    Column("actor", String(128), nullable=False),  # customer, agent:<username>
    Column("reason", Text),
)

link_codes = Table(
    "link_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("identity", String(255), nullable=False, index=True),
    Column("expires_at", UtcDateTime, nullable=False),
)


def identity_of(conversation: Conversation) -> str:
    """The identity a conversation proves: its channel's user id, else the conversation."""
    customer_id = conversation.customer_id or ""
    if conversation.channel != "web" and customer_id.startswith(CHANNEL_PREFIXES):
        return customer_id
    return f"conversation:{conversation.id}"


def is_identity(text: str) -> bool:
    """Whether `text` has an identity's form: line:…, messenger:… or conversation:…."""
    kind, sep, rest = text.partition(":")
    return bool(sep and rest.strip()) and kind in ("line", "messenger", "conversation")


def read_code(text: str) -> str | None:
    """The 6 digits of a linking code typed as a message ("KF-123456"), else None."""
    found = CODE.match(text)
    return found.group(1) if found else None


class LinkRefused(ValueError):
    """`code`: wrong_code (unknown, used or expired), same_customer, too_many_tries,
    unknown_identity, no_reason."""

    def __init__(self, code: str, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class IssuedCode:
    code: str  # as the customer types it: KF-123456
    expires_at: datetime


@dataclass(frozen=True)
class IdentityEvent:
    at: datetime
    kind: str
    identity: str
    other: str | None
    customer: str | None
    proof: str
    actor: str
    reason: str | None


@dataclass(frozen=True)
class Customer:
    key: str | None  # None: an identity linked to nothing
    identities: tuple[str, ...]


class CustomerIdentities:
    def __init__(
        self,
        engine: Engine,
        *,
        code_lifetime: timedelta = timedelta(minutes=10),
        tries: str = "5/10 minutes",
    ) -> None:
        self._engine = engine
        self._writer = writer(engine)
        self.code_lifetime = code_lifetime
        self._tries = RateLimiter(tries)

    @property
    def engine(self) -> Engine:
        return self._engine

    # --- one-time codes ---

    def issue_code(self, identity: str) -> IssuedCode:
        """A new code for `identity` (its earlier codes stop working)."""
        digits = f"{secrets.randbelow(1_000_000):06d}"
        expires = now() + self.code_lifetime
        with self._writer.begin() as conn:
            conn.execute(delete(link_codes).where(link_codes.c.identity == identity))
            conn.execute(delete(link_codes).where(link_codes.c.expires_at < now()))
            conn.execute(
                insert(link_codes).values(
                    code_hash=_hash(digits), identity=identity, expires_at=expires
                )
            )
        return IssuedCode(f"KF-{digits}", expires)

    def redeem(self, identity: str, digits: str) -> Customer:
        """Link `identity` with the identity the code was issued to; the code is used up.
        Raises LinkRefused (wrong_code, same_customer, too_many_tries)."""
        try:
            self._tries.hit("link", identity)
        except RateLimited as limited:
            raise LinkRefused(
                "too_many_tries", "too many linking codes tried", limited.retry_after_s
            ) from None
        with self._writer.begin() as conn:
            row = conn.execute(
                select(link_codes).where(link_codes.c.code_hash == _hash(digits))
            ).one_or_none()
            if row is None or row.expires_at < now() or row.identity == identity:
                raise LinkRefused("wrong_code", "the code is wrong, used or expired")
            conn.execute(delete(link_codes).where(link_codes.c.code_hash == row.code_hash))
            customer = self._join(
                conn, row.identity, identity, "linked", "one_time_code", "customer"
            )
        return customer

    # --- agents ---

    def merge(self, first: str, second: str, actor: str, reason: str) -> Customer:
        """An agent's merge of two identities (and whatever each is linked with)."""
        if not reason.strip():
            raise LinkRefused("no_reason", "a merge needs a reason")
        for identity in (first, second):
            if not is_identity(identity):
                raise LinkRefused("unknown_identity", f"{identity!r} is not an identity")
        if first == second:
            raise LinkRefused("same_customer", "the two are one identity")
        with self._writer.begin() as conn:
            return self._join(conn, first, second, "merged", "agent", actor, reason.strip())

    def split(self, identity: str, actor: str, reason: str) -> Customer:
        """Take `identity` out of its customer (a wrong merge); returns what remains."""
        if not reason.strip():
            raise LinkRefused("no_reason", "a split needs a reason")
        with self._writer.begin() as conn:
            key = _key(conn, identity)
            if key is None:
                raise LinkRefused("unknown_identity", "the identity is linked to nothing")
            conn.execute(
                delete(customer_identities).where(customer_identities.c.identity == identity)
            )
            rest = _members(conn, key)
            if len(rest) == 1:  # a customer of one identity is just that identity
                conn.execute(
                    delete(customer_identities).where(customer_identities.c.customer == key)
                )
            _record(conn, "split", identity, None, key, "agent", actor, reason.strip())
        return Customer(key if len(rest) > 1 else None, tuple(rest))

    # --- reading ---

    def customer(self, identity: str) -> Customer:
        with self._engine.connect() as conn:
            key = _key(conn, identity)
            if key is None:
                return Customer(None, (identity,))
            return Customer(key, tuple(_members(conn, key)))

    def history(self, identities: tuple[str, ...]) -> list[IdentityEvent]:
        """The links, merges and splits that touched any of `identities` or a customer they
        were part of (a split of someone else from it included), oldest first."""
        touching = or_(
            identity_events.c.identity.in_(identities), identity_events.c.other.in_(identities)
        )
        with self._engine.connect() as conn:
            keys = conn.execute(
                select(identity_events.c.customer).where(touching).distinct()
            ).scalars()
            rows = conn.execute(
                select(identity_events)
                .where(or_(touching, identity_events.c.customer.in_([k for k in keys if k])))
                .order_by(identity_events.c.id)
            ).all()
        return [
            IdentityEvent(r.at, r.kind, r.identity, r.other, r.customer, r.proof, r.actor, r.reason)
            for r in rows
        ]

    def _join(
        self,
        conn: Connection,
        first: str,
        second: str,
        kind: str,
        proof: str,
        actor: str,
        reason: str | None = None,
    ) -> Customer:
        a, b = _key(conn, first), _key(conn, second)
        if a is not None and a == b:
            raise LinkRefused("same_customer", "the two are one customer already")
        at = now()
        key = a or b or f"cus_{uuid.uuid4().hex}"
        if a is None:
            conn.execute(
                insert(customer_identities).values(identity=first, customer=key, linked_at=at)
            )
        if b is None:
            conn.execute(
                insert(customer_identities).values(identity=second, customer=key, linked_at=at)
            )
        elif b != key:
            conn.execute(
                update(customer_identities)
                .where(customer_identities.c.customer == b)
                .values(customer=key)
            )
        _record(conn, kind, first, second, key, proof, actor, reason)
        return Customer(key, tuple(_members(conn, key)))


def _hash(digits: str) -> str:
    return hashlib.sha256(digits.encode()).hexdigest()


def _key(conn: Connection, identity: str) -> str | None:
    return conn.execute(
        select(customer_identities.c.customer).where(customer_identities.c.identity == identity)
    ).scalar_one_or_none()


def _members(conn: Connection, key: str) -> list[str]:
    return list(
        conn.execute(
            select(customer_identities.c.identity)
            .where(customer_identities.c.customer == key)
            .order_by(customer_identities.c.linked_at, customer_identities.c.identity)
        ).scalars()
    )


def _record(
    conn: Connection,
    kind: str,
    identity: str,
    other: str | None,
    customer: str,
    proof: str,
    actor: str,
    reason: str | None,
) -> None:
    conn.execute(
        insert(identity_events).values(
            at=now(),
            kind=kind,
            identity=identity,
            other=other,
            customer=customer,
            proof=proof,
            actor=actor,
            reason=reason,
        )
    )


def conversations_of(store: ConversationStore, identities: tuple[str, ...]) -> list[Conversation]:
    """Every conversation of the identities, on every channel, newest first."""
    found: dict[str, Conversation] = {}
    for identity in identities:
        if identity.startswith("conversation:"):
            try:
                conversation = store.get(identity.removeprefix("conversation:"))
            except ConversationNotFound:
                continue
            found[conversation.id] = conversation
        else:
            channel = identity.partition(":")[0]
            for conversation in store.conversations(customer_id=identity):
                if conversation.channel == channel:
                    found[conversation.id] = conversation
    return sorted(found.values(), key=lambda c: c.created_at, reverse=True)
