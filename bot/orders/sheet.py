"""Orders from a CSV or XLSX export: its headers recognised in zh-TW or English, each row
checked on its own, so that the good rows are imported and the bad ones reported by row number
(the number a spreadsheet shows, the header being row 1)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.conversation.events import now
from bot.orders.model import (
    Order,
    OrderInvalid,
    money,
    normalise_email,
    normalise_number,
    normalise_phone,
)
from bot.orders.store import OrderStore, Saved
from bot.orders.words import status_of

FILE = "file"
TAIWAN = timezone(timedelta(hours=8))
ITEM_SEPARATORS = re.compile(r"[,;、，；\n]")
MAX_ROWS = 200_000

# A column's field, by its header (compared lower-cased, without spaces, "_", "-" or ":").
HEADERS: dict[str, tuple[str, ...]] = {
    "number": (
        "訂單編號",
        "訂單號碼",
        "訂單號",
        "訂單",
        "ordernumber",
        "orderno",
        "orderno.",
        "order",
        "order#",
        "orderid",
        "number",
    ),
    "email": ("email", "e-mail", "電子郵件", "電子信箱", "信箱", "mail"),
    "phone": (
        "電話",
        "手機",
        "手機號碼",
        "聯絡電話",
        "收件人電話",
        "phone",
        "mobile",
        "phonenumber",
        "tel",
    ),
    "platform_customer_id": ("會員編號", "客戶編號", "顧客編號", "customerid", "customer"),
    "status": ("狀態", "訂單狀態", "出貨狀態", "status", "orderstatus"),
    "payment_status": ("付款狀態", "paymentstatus", "payment"),
    "carrier": (
        "物流",
        "物流公司",
        "貨運",
        "貨運公司",
        "配送方式",
        "carrier",
        "courier",
        "shippingcarrier",
        "shipping",
    ),
    "tracking_number": (
        "追蹤碼",
        "追蹤號碼",
        "物流單號",
        "貨運單號",
        "託運單號",
        "配送單號",
        "trackingnumber",
        "tracking",
        "trackingno",
        "trackingno.",
    ),
    "tracking_url": ("追蹤連結", "查詢網址", "物流連結", "trackingurl", "trackinglink"),
    "expected_delivery": (
        "預計到貨",
        "預計到貨日",
        "預計送達",
        "expecteddelivery",
        "eta",
        "estimateddelivery",
        "deliverydate",
    ),
    "total": ("金額", "總金額", "訂單金額", "總計", "合計", "total", "amount", "ordertotal"),
    "currency": ("幣別", "幣值", "currency"),
    "created_at": (
        "下單時間",
        "下單日期",
        "訂購日期",
        "訂購時間",
        "成立時間",
        "訂單日期",
        "created",
        "createdat",
        "orderdate",
        "date",
    ),
    "updated_at": ("更新時間", "最後更新", "updated", "updatedat", "lastupdated"),
    "items": ("商品", "品項", "商品名稱", "items", "products", "product"),
}
_BY_HEADER = {name: key for key, names in HEADERS.items() for name in names}


class SheetInvalid(ValueError):
    """The file as a whole cannot be read as orders (no order-number column, not CSV/XLSX)."""


@dataclass
class ImportReport:
    columns: dict[str, str] = field(default_factory=dict)  # header → field
    saved: Counter[str] = field(default_factory=Counter)  # created, updated, unchanged, stale
    problems: list[tuple[int, str]] = field(default_factory=list)  # (row, why)

    @property
    def imported(self) -> int:
        return sum(self.saved.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "saved": {s.value: self.saved.get(s.value, 0) for s in Saved},
            "columns": self.columns,
            "problems": [{"row": row, "problem": why} for row, why in self.problems],
        }


def header_key(header: Any) -> str:
    return re.sub(r"[\s_\-:：]+", "", str(header or "")).lower()


def read_rows(name: str, content: bytes) -> list[list[Any]]:
    """The file's rows (the header first), CSV (UTF-8 or Big5) or XLSX (the first sheet)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        for encoding in ("utf-8-sig", "cp950"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise SheetInvalid("the CSV is neither UTF-8 nor Big5")
        return [row for row in csv.reader(io.StringIO(text))][: MAX_ROWS + 1]
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise SheetInvalid(f"the XLSX cannot be read: {exc}") from None
        try:
            sheet = book.worksheets[0]
            rows: list[list[Any]] = []
            for values in sheet.iter_rows(values_only=True):
                rows.append(list(values))
                if len(rows) > MAX_ROWS:
                    break
            return rows
        finally:
            book.close()
    raise SheetInvalid(f"{name}: orders are imported from .csv or .xlsx files")


def import_orders(store: OrderStore, name: str, content: bytes) -> ImportReport:
    rows = read_rows(name, content)
    report = ImportReport()
    if not rows:
        raise SheetInvalid("the file is empty")
    fields: list[str | None] = []
    for header in rows[0]:
        key = _BY_HEADER.get(header_key(header))
        if key in fields:
            key = None  # of two columns for one field, the first counts
        fields.append(key)
        if key is not None:
            report.columns[str(header).strip()] = key
    if "number" not in fields:
        known = "、".join(HEADERS["number"][:3])
        raise SheetInvalid(f"no order-number column (a header such as {known} or order number)")
    imported_at = now()
    for index, values in enumerate(rows[1:], start=2):
        if all(v is None or not str(v).strip() for v in values):
            continue
        record = {f: v for f, v in zip(fields, values, strict=False) if f is not None}
        try:
            order = _order(record, imported_at)
        except OrderInvalid as exc:
            report.problems.append((index, str(exc)))
            continue
        report.saved[store.save(order).value] += 1
    return report


def _order(record: dict[str, Any], imported_at: datetime) -> Order:
    number = normalise_number(record.get("number") or "")
    if not number:
        raise OrderInvalid("the order number is empty")
    raw = _text(record.get("status")) or ""
    status = status_of(raw) if raw else "pending"
    if status is None:
        raise OrderInvalid(f"status {raw!r} is not a known order status")
    phone, email = _text(record.get("phone")), _text(record.get("email"))
    if phone is not None and normalise_phone(phone) is None:
        raise OrderInvalid(f"phone {phone!r} is not a phone number")
    if email is not None and normalise_email(email) is None:
        raise OrderInvalid(f"email {email!r} is not an email address")
    created = _when(record.get("created_at"), "created_at") or imported_at
    updated = _when(record.get("updated_at"), "updated_at") or created
    expected = record.get("expected_delivery")
    items = _text(record.get("items"))
    return Order(
        number=number,
        source=FILE,
        created_at=created,
        updated_at=updated,
        status=status,
        raw_status=raw,
        payment_status=_text(record.get("payment_status")),
        email=email,
        phone=phone,
        platform_customer_id=_text(record.get("platform_customer_id")),
        items=[{"name": p.strip()} for p in ITEM_SEPARATORS.split(items or "") if p.strip()],
        total=money(record.get("total")),
        currency=_text(record.get("currency")),
        carrier=_text(record.get("carrier")),
        tracking_number=_text(record.get("tracking_number")),
        tracking_url=_text(record.get("tracking_url")),
        expected_delivery=(
            expected.date().isoformat()
            if isinstance(expected, datetime)
            else expected.isoformat()
            if isinstance(expected, date)
            else _text(expected)
        ),
    )


def _when(value: Any, name: str) -> datetime | None:
    """A spreadsheet's date or time; without a zone it is Taiwan's (UTC+8)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=TAIWAN)
    if isinstance(value, date):
        return datetime.combine(value, time(), TAIWAN)
    text = str(value).strip().replace("/", "-")
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OrderInvalid(
            f"{name} {value!r} is not a date (2026-12-01 or 2026/12/01 14:30)"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=TAIWAN)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
