"""The words shops write for an order's status, in zh-TW and English, mapped onto kefu's."""

from __future__ import annotations

from bot.orders.model import STATUSES

STATUS_WORDS: dict[str, str] = {
    # zh-TW
    "待付款": "pending",
    "未付款": "pending",
    "待處理": "pending",
    "新訂單": "pending",
    "已付款": "processing",
    "處理中": "processing",
    "備貨中": "processing",
    "揀貨中": "processing",
    "待出貨": "processing",
    "已出貨": "shipped",
    "出貨": "shipped",
    "配送中": "shipped",
    "運送中": "shipped",
    "已寄出": "shipped",
    "已送達": "delivered",
    "已到貨": "delivered",
    "已取貨": "delivered",
    "已完成": "delivered",
    "完成": "delivered",
    "已取消": "cancelled",
    "取消": "cancelled",
    "已退款": "refunded",
    "退款": "refunded",
    "保留": "on_hold",
    "暫停": "on_hold",
    "付款失敗": "failed",
    # English
    "pending": "pending",
    "new": "pending",
    "paid": "processing",
    "processing": "processing",
    "shipped": "shipped",
    "in transit": "shipped",
    "fulfilled": "shipped",
    "delivered": "delivered",
    "completed": "delivered",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "refunded": "refunded",
    "on hold": "on_hold",
    "on-hold": "on_hold",
    "failed": "failed",
}


def status_of(word: str, extra: dict[str, str] | None = None) -> str | None:
    """kefu's status for a shop's word (`extra` first: a shop's own words), None if unknown."""
    key = word.strip().lower().replace("_", " ")
    if extra:
        lowered = {k.strip().lower(): v for k, v in extra.items()}
        if key in lowered:
            return lowered[key]
    if key.replace(" ", "_") in STATUSES:
        return key.replace(" ", "_")
    return STATUS_WORDS.get(key)
