"""A customer's consent to marketing messages: every opt-in and opt-out, with when, from what
source and by whom, kept as a history; the latest one is the customer's answer.

Consent is recorded on an identity (line:…, messenger:…, conversation:…) and read over all the
identities of one customer (bot/customers/identities.py). A stop on marketing use that an admin
recorded on the customer's request (bot/customers/corrections.py, PDPA Art. 20) counts as an
opt-out at its time. No record at all means the customer never said: not contactable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Boolean, Column, Integer, String, Table, Text, delete, insert, select
from sqlalchemy.engine import Connection, Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer
from bot.customers.corrections import Correction

ConsentSource = Literal["conversation", "shop_form", "email", "phone", "in_store"]
CONSENT_SOURCES: tuple[str, ...] = ConsentSource.__args__  # type: ignore[attr-defined]
PRIVACY_REQUEST = "privacy_request"  # the source of an opt-out from a correction's stop

# In the conversation store's schema (migration 0012).
marketing_consents = Table(
    "marketing_consents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity", String(255), nullable=False, index=True),
    Column("consent", Boolean, nullable=False),  # True: opted in; False: opted out
    Column("source", String(32), nullable=False),
    Column("actor", String(128), nullable=False),  # agent:<username>
    Column("at", UtcDateTime, nullable=False),
    Column("note", Text),
)


@dataclass(frozen=True)
class Consent:
    consent: bool
    source: str
    actor: str
    at: datetime
    note: str | None = None
    identity: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "consent": self.consent,
            "source": self.source,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "note": self.note,
            "identity": self.identity,
        }


class MarketingConsents:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        identity: str,
        consent: bool,
        source: str,
        actor: str,
        note: str | None = None,
    ) -> Consent:
        """An opt-in (consent=True) or opt-out, from `source` (one of CONSENT_SOURCES)."""
        if source not in CONSENT_SOURCES:
            raise ValueError(f"unknown consent source {source!r}")
        at = now()
        with writer(self.engine).begin() as conn:
            conn.execute(
                insert(marketing_consents).values(
                    identity=identity,
                    consent=consent,
                    source=source,
                    actor=actor,
                    at=at,
                    note=note or None,
                )
            )
        return Consent(consent, source, actor, at, note or None, identity)

    def history(self, identities: Iterable[str]) -> list[Consent]:
        """Every opt-in and opt-out of the identities, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(marketing_consents)
                .where(marketing_consents.c.identity.in_(sorted(set(identities))))
                .order_by(marketing_consents.c.at, marketing_consents.c.id)
            ).all()
        return [Consent(r.consent, r.source, r.actor, r.at, r.note, r.identity) for r in rows]


def current(records: Sequence[Consent], stop: Correction | None = None) -> Consent | None:
    """The customer's answer: the latest of their records and of a stop on marketing use
    recorded on their request; None when they never said."""
    found = list(records)
    if stop is not None and stop.marketing_opt_out and stop.opt_out_at is not None:
        found.append(Consent(False, PRIVACY_REQUEST, stop.opt_out_by or "", stop.opt_out_at))
    return max(found, key=lambda c: c.at) if found else None


def forget(conn: Connection, identities: Iterable[str]) -> int:
    """Delete the identities' opt-ins and opt-outs in the caller's (write) transaction (the
    customer's erasure); how many rows."""
    done = conn.execute(
        delete(marketing_consents).where(marketing_consents.c.identity.in_(sorted(set(identities))))
    )
    return int(done.rowcount or 0)
