"""The shop's own profile fields: an admin defines them (text, number, date or choice, with a
label in zh-TW and English, and whether every customer should have it), agents fill them in.

A value is kept per identity (line:…, messenger:…, conversation:…) with who set it and when,
and read over all the identities of one customer, the latest value winning. Each change is a
staff action on the audit log (bot/api/audit.py). On the profile a field is named `field:<name>`
(bot/customers/profile.py), so that a wanted one counts in completeness.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Column,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from bot.conversation.events import now
from bot.conversation.sql import UtcDateTime, metadata, writer

FieldKind = Literal["text", "number", "date", "choice"]
FIELD_KINDS: tuple[str, ...] = FieldKind.__args__  # type: ignore[attr-defined]
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 500
MAX_CHOICES = 50
PREFIX = "field:"  # the profile's name of a custom field

# In the conversation store's schema (migration 0012).
custom_fields = Table(
    "custom_fields",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("label_zh", String(120), nullable=False),
    Column("label_en", String(120), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("choices", Text),  # JSON list, for kind "choice"
    Column("wanted", Boolean, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

custom_field_values = Table(
    "custom_field_values",
    metadata,
    Column("identity", String(255), nullable=False),
    Column("field", String(64), nullable=False, index=True),
    Column("value", Text, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("identity", "field", name="pk_custom_field_values"),
)


class FieldRefused(ValueError):
    """`code`: invalid_field (a bad definition), field_exists, unknown_field, invalid_value."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CustomField:
    name: str
    label_zh: str
    label_en: str
    kind: str
    choices: list[str] = field(default_factory=list)
    wanted: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "kind": self.kind,
            "choices": list(self.choices),
            "wanted": self.wanted,
        }

    def clean(self, value: Any) -> str:
        """The value as stored (text), or FieldRefused(invalid_value)."""
        text = str(value).strip() if value is not None else ""
        if not text:
            raise FieldRefused("invalid_value", f"{self.name}: a value is needed (null clears)")
        if self.kind == "number":
            try:
                number = float(text.replace(",", ""))
            except ValueError:
                raise FieldRefused("invalid_value", f"{self.name}: not a number") from None
            if not math.isfinite(number):
                raise FieldRefused("invalid_value", f"{self.name}: not a number")
            return str(int(number)) if number.is_integer() else str(number)
        if self.kind == "date":
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise FieldRefused(
                    "invalid_value", f"{self.name}: not a date (2026-12-03)"
                ) from None
        if self.kind == "choice" and text not in self.choices:
            raise FieldRefused("invalid_value", f"{self.name}: one of {', '.join(self.choices)}")
        if len(text) > MAX_TEXT:
            raise FieldRefused("invalid_value", f"{self.name}: at most {MAX_TEXT} characters")
        return text


@dataclass(frozen=True)
class FieldValue:
    field: str
    value: str
    updated_by: str
    updated_at: datetime
    identity: str


def _field(row: Any) -> CustomField:
    return CustomField(
        row.name,
        row.label_zh,
        row.label_en,
        row.kind,
        json.loads(row.choices) if row.choices else [],
        bool(row.wanted),
    )


class CustomFields:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def definitions(self) -> list[CustomField]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(custom_fields).order_by(custom_fields.c.created_at)).all()
        return [_field(r) for r in rows]

    def get(self, name: str) -> CustomField:
        with self.engine.connect() as conn:
            row = conn.execute(select(custom_fields).where(custom_fields.c.name == name)).first()
        if row is None:
            raise FieldRefused("unknown_field", f"no custom field {name!r}")
        return _field(row)

    def define(self, definition: CustomField, actor: str) -> CustomField:
        """A new field (FieldRefused: invalid_field, field_exists)."""
        if not NAME.match(definition.name):
            raise FieldRefused(
                "invalid_field", "a field's name: lower-case letters, digits and _ (a-z first)"
            )
        if definition.kind not in FIELD_KINDS:
            raise FieldRefused("invalid_field", f"kind: one of {', '.join(FIELD_KINDS)}")
        choices = list(dict.fromkeys(c.strip() for c in definition.choices if c.strip()))
        if definition.kind == "choice" and not choices:
            raise FieldRefused("invalid_field", "a choice field needs its choices")
        if len(choices) > MAX_CHOICES:
            raise FieldRefused("invalid_field", f"at most {MAX_CHOICES} choices")
        if definition.kind != "choice":
            choices = []
        with writer(self.engine).begin() as conn:
            exists = conn.execute(
                select(custom_fields.c.name).where(custom_fields.c.name == definition.name)
            ).first()
            if exists is not None:
                raise FieldRefused("field_exists", f"there is a field {definition.name!r}")
            conn.execute(
                insert(custom_fields).values(
                    name=definition.name,
                    label_zh=definition.label_zh.strip(),
                    label_en=definition.label_en.strip(),
                    kind=definition.kind,
                    choices=json.dumps(choices, ensure_ascii=False) if choices else None,
                    wanted=definition.wanted,
                    created_by=actor,
                    created_at=now(),
                )
            )
        return self.get(definition.name)

    def remove(self, name: str) -> int:
        """Delete a field and its values; how many values went with it."""
        self.get(name)
        with writer(self.engine).begin() as conn:
            done = conn.execute(
                delete(custom_field_values).where(custom_field_values.c.field == name)
            )
            conn.execute(delete(custom_fields).where(custom_fields.c.name == name))
        return int(done.rowcount or 0)

    def set(self, identity: str, name: str, value: Any, actor: str) -> FieldValue | None:
        """Set the field on an identity (None clears it); the value as kept, or None."""
        definition = self.get(name)
        with writer(self.engine).begin() as conn:
            where = (custom_field_values.c.identity == identity) & (
                custom_field_values.c.field == name
            )
            if value is None or (isinstance(value, str) and not value.strip()):
                conn.execute(delete(custom_field_values).where(where))
                return None
            text = definition.clean(value)
            at = now()
            values = {"value": text, "updated_by": actor, "updated_at": at}
            if (
                conn.execute(update(custom_field_values).where(where).values(**values)).rowcount
                == 0
            ):
                conn.execute(
                    insert(custom_field_values).values(identity=identity, field=name, **values)
                )
        return FieldValue(name, text, actor, at, identity)

    def values_of(self, identities: Iterable[str]) -> dict[str, FieldValue]:
        """The customer's value of each field: over their identities, the latest wins."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(custom_field_values)
                .where(custom_field_values.c.identity.in_(sorted(set(identities))))
                .order_by(custom_field_values.c.updated_at)
            ).all()
        return {
            r.field: FieldValue(r.field, r.value, r.updated_by, r.updated_at, r.identity)
            for r in rows
        }


def forget(conn: Connection, identities: Iterable[str]) -> int:
    """Delete the identities' values of the shop's fields in the caller's (write) transaction
    (the customer's erasure); how many rows."""
    done = conn.execute(
        delete(custom_field_values).where(
            custom_field_values.c.identity.in_(sorted(set(identities)))
        )
    )
    return int(done.rowcount or 0)
