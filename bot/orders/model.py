"""An order as kefu keeps it, whatever platform it came from, and the customer's contact details
in one comparable form (phone numbers as +886…, emails lower-cased)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Statuses every source is mapped onto; the platform's own word is kept in `raw_status`.
STATUSES = (
    "pending",  # placed, not paid or not yet handled
    "processing",  # paid, being picked and packed
    "shipped",  # handed to the carrier
    "delivered",
    "cancelled",
    "refunded",
    "on_hold",
    "failed",  # payment failed
)
PAYMENT_STATUSES = ("pending", "paid", "partially_paid", "refunded", "partially_refunded", "voided")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class OrderInvalid(ValueError):
    """An order that cannot be stored; the message says which field and why."""


def normalise_phone(value: str | None) -> str | None:
    """A phone number as +<country><number>: Taiwan's 0912-345-678, 0912 345 678, 886912345678
    and +886 912 345 678 all become +886912345678; 02-2345-6789 becomes +886223456789. Other
    numbers written with + keep their country. None when there are too few digits to be one."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    plus = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    if digits.startswith("886"):
        rest = digits[3:]
        digits = "886" + (rest[1:] if rest.startswith("0") else rest)
    elif plus:
        pass  # another country, written in full
    elif digits.startswith("0"):
        digits = "886" + digits[1:]
    elif len(digits) == 9 and digits.startswith("9"):
        digits = "886" + digits  # a mobile number whose leading 0 a spreadsheet dropped
    if len(digits) < 8 or len(digits) > 15:
        return None
    return "+" + digits


def normalise_email(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    return text if _EMAIL.match(text) else None


def normalise_number(value: Any) -> str:
    """An order number as written anywhere: "#1001", " 1001 " and 1001 are "1001"."""
    text = str(value).strip().lstrip("#").strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # a spreadsheet's number cell
    return text


def money(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise OrderInvalid(f"total {value!r} is not an amount") from None
    if not amount.is_finite():
        raise OrderInvalid(f"total {value!r} is not an amount")
    return amount


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Order:
    number: str  # the number the customer knows ("1001"), without "#"
    source: str  # shopify, woocommerce, file, erp
    created_at: datetime
    updated_at: datetime  # when the source last changed it; older updates never win
    status: str = "pending"
    raw_status: str = ""  # the source's own word for the status
    payment_status: str | None = None
    email: str | None = None
    phone: str | None = None
    platform_customer_id: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # name, quantity, price, sku
    total: Decimal | None = None
    currency: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    expected_delivery: str | None = None  # an ISO date or date-time, as the source gives it
    source_id: str | None = None  # the platform's own id of the order

    def __post_init__(self) -> None:
        number = normalise_number(self.number)
        if not number or len(number) > 64:
            raise OrderInvalid("an order needs an order number (at most 64 characters)")
        if self.status not in STATUSES:
            raise OrderInvalid(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        object.__setattr__(self, "number", number)
        object.__setattr__(self, "created_at", aware(self.created_at))
        object.__setattr__(self, "updated_at", aware(self.updated_at))
        object.__setattr__(self, "phone", normalise_phone(self.phone))
        object.__setattr__(self, "email", normalise_email(self.email))

    def owned_by(self, contact: str) -> bool:
        """Whether `contact` (a phone number or an email, as the customer wrote it) is this
        order's."""
        email = normalise_email(contact)
        if email is not None:
            return self.email is not None and email == self.email
        phone = normalise_phone(contact)
        return phone is not None and self.phone is not None and phone == self.phone
