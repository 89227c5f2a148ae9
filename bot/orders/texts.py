"""What the bot says about orders, in Traditional Chinese (Taiwan) and English. A reply that is
not the verified answer says nothing about any order, not even whether it exists."""

from __future__ import annotations

from bot.answering.texts import Language

TEXTS: dict[str, dict[Language, str]] = {
    "order_ask_number": {
        "zh": "可以幫您查詢訂單！請提供訂單編號（例如 #1001）。",
        "en": "I can look up your order. What is the order number (for example #1001)?",
    },
    "order_ask_contact": {
        "zh": "為了保護您的資料，請提供下單時填寫的手機號碼或 Email，核對後就為您查詢。",
        "en": "To protect your details, please send the phone number or email used for the "
        "order; I'll look it up once they match.",
    },
    "order_not_verified": {
        "zh": "抱歉，這組訂單編號與聯絡資料無法核對。請確認訂單編號，以及下單時填寫的手機號碼或 "
        "Email 後再試一次。",
        "en": "Sorry, I couldn't match that order number with those contact details. Please "
        "check the order number and the phone number or email used for the order, and try "
        "again.",
    },
    "order_handed_off": {
        "zh": "資料多次無法核對，已為您轉接專人協助，請稍候，客服人員會在這裡回覆您。",
        "en": "The details didn't match several times, so I've passed your conversation to a "
        "person. Please stay here; they will reply in this chat.",
    },
    "order_unavailable": {
        "zh": "抱歉，訂單系統暫時無法查詢。您可以稍後再試，或按「轉接真人客服」由專人協助。",
        "en": "Sorry, the order system can't be reached right now. Please try again later, or "
        "ask for a person and they will help you.",
    },
    "order_status": {
        "zh": "訂單 #{number} 目前狀態：{status}。",
        "en": "Order #{number} is {status}.",
    },
    "order_carrier": {"zh": "物流：{carrier}", "en": "Carrier: {carrier}"},
    "order_tracking": {"zh": "追蹤碼：{tracking}", "en": "Tracking number: {tracking}"},
    "order_tracking_url": {"zh": "追蹤連結：{url}", "en": "Track it here: {url}"},
    "order_expected": {"zh": "預計到貨：{date}", "en": "Expected delivery: {date}"},
    "order_not_shipped": {
        "zh": "商品尚未出貨，出貨後就會有物流追蹤資訊。",
        "en": "It hasn't shipped yet; tracking details come once it does.",
    },
}

STATUS_NAMES: dict[str, dict[Language, str]] = {
    "pending": {"zh": "待付款／待處理", "en": "pending (awaiting payment or confirmation)"},
    "processing": {"zh": "處理中（備貨中）", "en": "being prepared"},
    "shipped": {"zh": "已出貨", "en": "shipped"},
    "delivered": {"zh": "已送達", "en": "delivered"},
    "cancelled": {"zh": "已取消", "en": "cancelled"},
    "refunded": {"zh": "已退款", "en": "refunded"},
    "on_hold": {"zh": "暫停處理", "en": "on hold"},
    "failed": {"zh": "付款失敗", "en": "awaiting payment (the payment failed)"},
}


def say(key: str, language: Language, **values: object) -> str:
    return TEXTS[key][language].format(**values)
