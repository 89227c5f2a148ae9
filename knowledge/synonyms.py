"""Everyday shop wordings folded to one form before keyword matching (貨到付款 = 取貨付款 …).

BM25 only matches words that are spelled alike. Customers write 統編 where the FAQ says 統一編號,
小七 or 7-11 where it says 7-ELEVEN, and mix English into Chinese (點數會expire嗎). `fold()`
rewrites each known variant to the group's first form; `knowledge.text.tokenize` applies it to
both the indexed text and the query, so either side may use any variant.

The list is deliberately short and general to online shops in Taiwan: every group is a set of
words a customer and a shop use for the same thing, not wordings of particular questions.
The dense signals need none of it (e5 already places these words together). Its effect on the
public data sets is measured by `python -m eval.retrieval --keyword-tokenizer no-synonyms`.
"""

from __future__ import annotations

import re

# Each group: the form kept first, then the variants rewritten to it. Text is already
# normalised (NFKC, lower case, Traditional characters) when it gets here.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("貨到付款", "取貨付款", "到付", "cash on delivery"),
    ("統一編號", "統編", "公司統編"),
    ("到期", "過期", "逾期", "expired", "expires", "expire", "expiry", "expiration"),
    # A 7-ELEVEN is a 超商: the folded form carries both words, so 超商取貨 finds 7-11 too.
    ("小七超商", "7-11", "7-eleven", "7 eleven", "seven-eleven", "seven eleven", "711", "小七"),
    ("全家超商", "familymart", "family mart", "全家便利商店"),
    ("超商", "便利商店", "convenience store", "convenience-store"),
    ("linepay", "line pay", "line-pay"),
    ("街口支付", "jkopay", "jko pay", "街口"),
    ("發票", "invoice", "invoices", "e-invoice", "e-invoices", "receipt", "receipts", "收據"),
    ("信用卡", "刷卡", "credit card", "credit cards"),
    ("退款", "退錢", "退費", "refund", "refunds", "refunded"),
    ("email", "e-mail", "電子郵件", "電郵"),
    # The words of customer service in English and Chinese. A shop's knowledge is often in one
    # language only; folded to one form, an English question finds the Chinese row by its
    # words too (and the reverse), not by the multilingual model alone, whose similarities to
    # the rows of another language lie close together.
    ("取消訂閱", "unsubscribe", "unsubscribed", "unsubscribing", "退訂"),
    (
        "取消",
        "cancel",
        "cancels",
        "cancelled",
        "canceled",
        "cancelling",
        "canceling",
        "cancellation",
        "cancellations",
    ),
    ("訂單", "order", "orders"),
    ("退貨", "return", "returns", "returned", "returning"),
    ("換貨", "exchange", "exchanges", "exchanged"),
    ("密碼", "password", "passwords"),
    ("會員", "member", "members", "membership", "memberships"),
    ("帳號", "帳戶", "account", "accounts"),
    ("點數", "紅利點數", "points", "reward points", "loyalty points"),
    ("生日", "birthday", "birthdays"),
    ("保固", "warranty", "warranties", "guarantee"),
    ("維修", "送修", "repair", "repairs", "repaired"),
    ("運費", "shipping fee", "shipping fees", "shipping cost", "delivery fee", "postage"),
    ("地址", "address", "addresses"),
    ("尺寸", "尺碼", "size", "sizes"),
    ("瑕疵", "損壞", "defect", "defects", "defective", "damaged", "faulty"),
    ("分期", "installment", "installments", "instalment", "instalments"),
    ("電子報", "newsletter", "newsletters"),
    ("優惠券", "折價券", "coupon", "coupons", "voucher", "vouchers"),
    ("缺貨", "out of stock", "sold out"),
    ("補貨", "restock", "restocked", "back in stock"),
    ("客服", "customer service", "customer support"),
    ("取貨", "pick up", "pickup", "pick-up", "picked up"),
    ("包裹", "parcel", "parcels", "package", "packages"),
    ("海外", "overseas", "abroad"),
    ("刪除", "delete", "deleted", "deleting"),
    ("註冊", "sign up", "signed up", "register", "registered", "registration"),
    ("登入", "log in", "login", "logged in", "sign in"),
    ("個人資料", "個資", "personal data", "personal information"),
)

_CANONICAL: dict[str, str] = {}
for _group in GROUPS:
    for _variant in _group:  # the kept form maps to itself: 到付 must not match inside 貨到付款
        _CANONICAL.setdefault(_variant, _group[0])


def _pattern(variant: str) -> str:
    escaped = re.escape(variant)
    # Latin words only match whole (711 not inside 37110, refund not inside refunding's stem).
    if variant[0].isascii() and variant[0].isalnum():
        escaped = r"(?<![a-z0-9])" + escaped
    if variant[-1].isascii() and variant[-1].isalnum():
        escaped += r"(?![a-z0-9])"
    return escaped


# Longest variants first, so "line pay" wins over any shorter variant inside it.
_VARIANTS = re.compile(
    "|".join(_pattern(v) for v in sorted(_CANONICAL, key=len, reverse=True)),
)


def fold(text: str) -> str:
    """`text` (normalised) with every known variant rewritten to its group's first form.

    A form written in is set apart by spaces so that the Chinese word cutter sees it whole
    (在7-11取貨 would otherwise be cut 在小七超 / 商取貨); a kept form already in the text is
    left as it stands, for the cutter to read with its neighbours (非會員 stays one word).
    """
    return _VARIANTS.sub(_written_in, text)


def _written_in(match: re.Match[str]) -> str:
    found = match.group(0)
    kept = _CANONICAL[found]
    return found if found == kept else f" {kept} "


# A question's closing particle 嗎 typed as its homophone 媽 (or the bopomofo ㄇ), as phone
# keyboards offer it: 可以退貨媽. Left alone after a word that ends in 媽 (我媽, 媽媽, 姑媽).
_TYPED_PARTICLE = re.compile(
    r"(?<=[\u4e00-\u9fff])(?<![媽我你妳他她老阿姑舅姨大乾岳奶外繼後])[媽ㄇ](?=\s*(?:[?？!！。，,~～…]|$))"
)


def mend_particles(question: str) -> str:
    """`question` with a closing 媽 or ㄇ read as the particle 嗎 it was typed for.

    Applied to a customer's question before any signal sees it (both the vector and the
    words), never to the knowledge: the same question always gets the same vector.
    """
    return _TYPED_PARTICLE.sub("嗎", question)
