"""The audience list for the marketing side: customers with their contact points, tags, channels,
consent and the shop's own fields, as rows for a CSV or XLSX file.

Only a customer whose latest answer is an opt-in is `contactable` (bot/customers/consent.py);
by default only they are listed. With `everyone` the others are listed too, marked not
contactable, so that the shop can see whom it may not write to. A customer who opted out after
opting in is not contactable: the latest answer counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.customers.directory import CustomerRecord
from bot.customers.fields import CustomField

HEADER = [
    "customer",
    "identities",
    "display_name",
    "email",
    "email_verified",
    "phone",
    "phone_verified",
    "channels",
    "tags",
    "marketing_consent",
    "consent_at",
    "consent_source",
    "contactable",
]


def audience(
    records: Sequence[CustomerRecord],
    own_fields: Sequence[CustomField] = (),
    *,
    tag: str | None = None,
    everyone: bool = False,
) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of the customers (with `tag`, if given): the contactable ones, or all."""
    header = [*HEADER, *(f"field:{f.name}" for f in own_fields)]
    rows: list[list[Any]] = []
    for record in records:
        values = record.profile.values
        if tag and tag not in values.get("tags", []):
            continue
        if not everyone and not record.contactable:
            continue
        email = values.get("email")
        phone = values.get("phone")
        consent = record.consent
        rows.append(
            [
                record.customer.key or record.customer.identities[0],
                " ".join(record.customer.identities),
                values.get("display_name"),
                email,
                _yes_no(email is not None and values.get("verified_email") == email),
                phone,
                _yes_no(phone is not None and values.get("verified_phone") == phone),
                " ".join(record.channels()),
                ", ".join(values.get("tags", [])),
                None if consent is None else _yes_no(consent.consent),
                None if consent is None else consent.at.isoformat(),
                None if consent is None else consent.source,
                _yes_no(record.contactable),
                *(
                    record.fields[f.name].value if f.name in record.fields else None
                    for f in own_fields
                ),
            ]
        )
    return header, rows


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
