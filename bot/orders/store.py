"""The order table, in the conversation store's database (migration 0004), and the one rule of
every write: an order update is kept only if it is newer than the one stored (by the source's
own updated time), so a webhook delivered twice or late changes nothing."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Row,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer
from bot.orders.model import Order, normalise_email, normalise_number, normalise_phone

orders = Table(
    "orders",
    metadata,
    Column("id", String(140), primary_key=True),  # "<source>:<number>"
    Column("source", String(32), nullable=False),
    Column("number", String(64), nullable=False, index=True),
    Column("source_id", String(64)),
    Column("email", String(255), index=True),
    Column("phone", String(32), index=True),
    Column("platform_customer_id", String(64), index=True),
    Column("status", String(16), nullable=False),
    Column("raw_status", String(64), nullable=False),
    Column("payment_status", String(32)),
    Column("items", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("total", String(32)),  # a decimal as text: exact on every backend
    Column("currency", String(8)),
    Column("carrier", String(120)),
    Column("tracking_number", String(120)),
    Column("tracking_url", String(1000)),
    Column("expected_delivery", String(40)),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("synced_at", UtcDateTime, nullable=False),
    UniqueConstraint("source", "number"),
)


class Saved(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # the same update again
    STALE = "stale"  # older than the stored one: ignored


class OrderStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = writer(engine)

    def save(self, order: Order) -> Saved:
        """Store `order` unless the stored one is as new or newer (see the module)."""
        values = _row(order)
        for attempt in (1, 2):
            try:
                with self._writer.begin() as conn:
                    stored = conn.execute(
                        select(orders).where(orders.c.id == values["id"]).with_for_update()
                    ).one_or_none()
                    if stored is None:
                        conn.execute(insert(orders).values(**values, synced_at=now()))
                        return Saved.CREATED
                    if stored.updated_at > order.updated_at:
                        return Saved.STALE
                    if _same(stored, values):
                        return Saved.UNCHANGED
                    conn.execute(
                        update(orders)
                        .where(orders.c.id == values["id"])
                        .values(**values, synced_at=now())
                    )
                    return Saved.UPDATED
            except IntegrityError:
                if attempt == 2:
                    raise
                # another writer created it between our read and insert: compare with theirs
        raise AssertionError("unreachable")

    def find(self, number: str) -> list[Order]:
        """The orders with this number (one per source that has it)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(orders).where(orders.c.number == normalise_number(number))
            ).all()
        return [_order(r) for r in rows]

    def any(self) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(select(orders.c.id).limit(1)).first() is not None

    def of_customer(self, contact: str) -> list[Order]:
        """The orders whose email, phone or platform customer id is `contact`, newest first."""
        keys = [orders.c.platform_customer_id == contact]
        if (email := normalise_email(contact)) is not None:
            keys.append(orders.c.email == email)
        elif (phone := normalise_phone(contact)) is not None:
            keys.append(orders.c.phone == phone)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(orders).where(or_(*keys)).order_by(orders.c.created_at.desc())
            ).all()
        return [_order(r) for r in rows]

    def placed_between(self, start: datetime | None, end: datetime | None) -> list[Order]:
        """Orders created in [start, end), oldest first (for attribution)."""
        query = select(orders).order_by(orders.c.created_at, orders.c.id)
        if start is not None:
            query = query.where(orders.c.created_at >= start)
        if end is not None:
            query = query.where(orders.c.created_at < end)
        with self._engine.connect() as conn:
            return [_order(r) for r in conn.execute(query)]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(orders)).scalar_one())


def _row(order: Order) -> dict[str, Any]:
    data = asdict(order)
    data["id"] = f"{order.source}:{order.number}"
    data["total"] = None if order.total is None else str(order.total)
    data["items"] = list(order.items)
    return data


_COMPARED = tuple(c.name for c in orders.columns if c.name not in ("id", "synced_at"))


def _same(stored: Row[Any], values: dict[str, Any]) -> bool:
    return all(getattr(stored, name) == values[name] for name in _COMPARED)


def _order(row: Row[Any]) -> Order:
    return Order(
        number=row.number,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
        raw_status=row.raw_status,
        payment_status=row.payment_status,
        email=row.email,
        phone=row.phone,
        platform_customer_id=row.platform_customer_id,
        items=list(row.items or []),
        total=None if row.total is None else Decimal(row.total),
        currency=row.currency,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        tracking_url=row.tracking_url,
        expected_delivery=row.expected_delivery,
        source_id=row.source_id,
    )
