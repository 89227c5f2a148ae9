"""A live order lookup in the shop's own ERP or logistics system, configured rather than coded:
a URL template holding {order_number}, request headers (its authentication), a mapping from
order fields to paths in its JSON answer, and a timeout. The answer is never stored."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.orders.model import Order, OrderInvalid, money
from bot.orders.words import status_of

ERP = "erp"
# Order numbers the lookup sends: letters, digits and - _ . only, so that a customer's text can
# never change the URL's path or query.
LOOKUP_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Order fields a mapping may name.
FIELDS = (
    "number",
    "status",
    "payment_status",
    "email",
    "phone",
    "platform_customer_id",
    "items",
    "total",
    "currency",
    "carrier",
    "tracking_number",
    "tracking_url",
    "expected_delivery",
    "created_at",
    "updated_at",
)


class LookupUnavailable(Exception):
    """The ERP did not answer usefully (timeout, 5xx, not JSON); the message says which."""


@dataclass(frozen=True)
class ErpLookup:
    url: str  # e.g. https://erp.example.tw/api/orders/{order_number}
    fields: dict[str, str]  # order field → JSON path ("data.shipments[0].tracking_no")
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    statuses: dict[str, str] = field(default_factory=dict)  # the ERP's status words → kefu's

    def __post_init__(self) -> None:
        if "{order_number}" not in self.url:
            raise ValueError("the ERP lookup URL needs {order_number} in it")
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ValueError(f"the ERP mapping names unknown order fields: {', '.join(unknown)}")

    def find(self, number: str) -> Order | None:
        """The order, None when the ERP does not know it (404, or no order number in its
        answer). Raises LookupUnavailable when it cannot tell."""
        if not LOOKUP_NUMBER.match(number):
            return None
        url = self.url.replace("{order_number}", quote(number, safe=""))
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", **self.headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read(2_000_000)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                return None
            raise LookupUnavailable(f"the ERP answered {exc.code}") from None
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise LookupUnavailable(f"the ERP did not answer: {exc}") from None
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LookupUnavailable("the ERP's answer is not JSON") from None
        return self.order(data, number)

    def order(self, data: Any, number: str) -> Order | None:
        found = {name: value_at(data, path) for name, path in self.fields.items()}
        answered = found.get("number")
        if "number" in self.fields and (answered is None or str(answered).strip() == ""):
            return None
        raw = "" if found.get("status") is None else str(found["status"])
        at = datetime.now(UTC)
        try:
            return Order(
                number=str(answered) if answered is not None else number,
                source=ERP,
                created_at=_time(found.get("created_at")) or at,
                updated_at=_time(found.get("updated_at")) or at,
                status=(status_of(raw, self.statuses) or "processing") if raw else "processing",
                raw_status=raw,
                payment_status=_text(found.get("payment_status")),
                email=_text(found.get("email")),
                phone=_text(found.get("phone")),
                platform_customer_id=_text(found.get("platform_customer_id")),
                items=_items(found.get("items")),
                total=money(found.get("total")),
                currency=_text(found.get("currency")),
                carrier=_text(found.get("carrier")),
                tracking_number=_text(found.get("tracking_number")),
                tracking_url=_text(found.get("tracking_url")),
                expected_delivery=_text(found.get("expected_delivery")),
            )
        except OrderInvalid as exc:
            raise LookupUnavailable(f"the ERP's order cannot be read: {exc}") from None


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path with list indexes ("data.shipments[0].no"); None if absent."""
    value = data
    for name, index in _STEP.findall(path):
        if name:
            if not isinstance(value, dict):
                return None
            value = value.get(name)
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v if isinstance(v, dict) else {"name": str(v)} for v in value]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
