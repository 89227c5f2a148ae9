"""What an admin corrected in a customer's profile on their request, and whether the customer
stopped the marketing use of their data (Taiwan's PDPA, Art. 3 and 20).

One row per `customer_id`: the corrected name, e-mail and phone (None: not corrected), and
`marketing_opt_out` with who set it and when. The profile shows corrected values over what the
log and the channels say (bot/customers/profile.py); the customer's copy includes the row;
erasure deletes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, String, Table, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer

CORRECTABLE = ("name", "email", "phone")

# In the conversation store's schema (migration 0010).
customer_corrections = Table(
    "customer_corrections",
    metadata,
    Column("customer_id", String(255), primary_key=True),
    Column("name", String(120)),
    Column("email", String(254)),
    Column("phone", String(30)),
    Column("marketing_opt_out", Boolean, nullable=False),
    Column("opt_out_by", String(64)),  # who last set or cleared the opt-out
    Column("opt_out_at", UtcDateTime),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class Correction:
    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    marketing_opt_out: bool
    opt_out_by: str | None
    opt_out_at: datetime | None
    updated_by: str
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """JSON-ready, for the customer's copy and the API."""
        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "marketing_opt_out": self.marketing_opt_out,
            "opt_out_by": self.opt_out_by,
            "opt_out_at": self.opt_out_at.isoformat() if self.opt_out_at else None,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }

    def profile_values(self) -> dict[str, Any]:
        """The profile fields this correction sets (bot/customers/profile.py's names)."""
        values: dict[str, Any] = {}
        if self.name:
            values["display_name"] = self.name
        if self.email:
            values["email"] = self.email
        if self.phone:
            values["phone"] = self.phone
        if self.marketing_opt_out:
            values["marketing_consent"] = False
        return values


def _correction(row: Any) -> Correction:
    return Correction(
        customer_id=row.customer_id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        marketing_opt_out=bool(row.marketing_opt_out),
        opt_out_by=row.opt_out_by,
        opt_out_at=row.opt_out_at,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


class CustomerCorrections:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, customer_id: str) -> Correction | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(customer_corrections).where(
                    customer_corrections.c.customer_id == customer_id
                )
            ).first()
        return _correction(row) if row else None

    def latest_of(self, customer_ids: Iterable[str]) -> Correction | None:
        """The latest correction among several ids of one customer (linked channels)."""
        found = [c for c in (self.get(i) for i in sorted(set(customer_ids))) if c is not None]
        return max(found, key=lambda c: c.updated_at) if found else None

    def correct(self, customer_id: str, changes: Mapping[str, Any], actor: str) -> Correction:
        """Apply `changes`: any of name, email, phone (None clears a correction) and
        marketing_opt_out (True stops marketing use, False allows it again)."""
        unknown = set(changes) - {*CORRECTABLE, "marketing_opt_out"}
        if unknown:
            raise ValueError(f"not correctable: {', '.join(sorted(unknown))}")
        at = now()
        values: dict[str, Any] = {k: changes[k] for k in CORRECTABLE if k in changes}
        if "marketing_opt_out" in changes:
            values.update(
                marketing_opt_out=bool(changes["marketing_opt_out"]),
                opt_out_by=actor,
                opt_out_at=at,
            )
        values.update(updated_by=actor, updated_at=at)
        with writer(self.engine).begin() as conn:
            done = conn.execute(
                update(customer_corrections)
                .where(customer_corrections.c.customer_id == customer_id)
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(
                    insert(customer_corrections).values(
                        customer_id=customer_id,
                        **{"marketing_opt_out": False, **values},
                    )
                )
        found = self.get(customer_id)
        assert found is not None
        return found


def forget(conn: Connection, customer_id: str) -> int:
    """Delete the customer's corrections in the caller's (write) transaction; how many rows."""
    done = conn.execute(
        delete(customer_corrections).where(customer_corrections.c.customer_id == customer_id)
    )
    return int(done.rowcount or 0)
