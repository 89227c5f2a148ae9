"""Personal numbers found in free text and masked, irreversibly.

Two groups of kinds:

* **Never stored** (`STORED_KINDS`): payment card numbers, Taiwan national ids, resident
  certificate numbers and bank account numbers. `redact` masks them in a customer's message or
  an agent's text before the conversation log takes it, so the log and everything derived from
  it (transcripts, packets, exports, reports, drafts, metrics) never hold them.
* **Kept but not shown** (`CONTACT_KINDS`): phone numbers and e-mail addresses stay in the log
  (a call back, an order check) and `mask_personal` masks them, and the other kinds again for
  logs older than redaction, wherever text leaves the desk: exports, the unanswered-question
  report and its clusters, knowledge drafts, application logs.

Each recogniser is a pattern plus a check, so that order numbers, prices, dates, tracking
numbers and product codes are left alone:

* card: 13-19 digits, single spaces or dashes between them, passing the Luhn check, starting
  as an issuer's numbers do, and not right after words that name an order, invoice or
  shipment;
* national_id: a letter, 1 or 2, eight digits, with the Ministry of the Interior's check digit;
* resident_id: the resident certificate numbers: the new (2021) form, a letter, 8 or 9 and eight
  digits, and the old form, two letters and eight digits, each with its check digit;
* bank_account: 8-16 digits (spaces, dashes, an optional bank code before them) right after a
  word that names an account: 帳號, 帳戶, 戶頭, 匯款帳號, account, acct, a/c;
* phone: Taiwanese mobile and landline numbers and international +country numbers;
* email: an address with a dotted domain.

Masks keep the shape and what an agent needs to tell two numbers apart, never enough to
rebuild one: a card keeps its separators and last four digits ("**** **** **** 1234"); an id
keeps its first letter and last two digits ("A*******89"); a bank account keeps its last four
("********5678"); a phone its last three ("****-***-678"); an e-mail address its first letter and
its domain ("a***@example.com"). Full-width digits and letters (１２３４) are read as their ASCII
forms.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.conversation.events import BotTurn, Event

CARD = "card"
NATIONAL_ID = "national_id"
RESIDENT_ID = "resident_id"
BANK_ACCOUNT = "bank_account"
PHONE = "phone"
EMAIL = "email"

STORED_KINDS: tuple[str, ...] = (CARD, NATIONAL_ID, RESIDENT_ID, BANK_ACCOUNT)
CONTACT_KINDS: tuple[str, ...] = (PHONE, EMAIL)
ALL_KINDS: tuple[str, ...] = STORED_KINDS + CONTACT_KINDS
MASK = "*"

# Full-width digits, letters, hyphen, plus and space read as ASCII (one character for one, so
# positions in the folded text are positions in the original).
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(ord("A") + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(ord("a") + i) for i in range(26)},
        "\uff0d": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\uff0b": "+",
        "\u3000": " ",
        "\uff20": "@",
        "\uff0e": ".",
    }
)

# The letter of a national id or resident certificate: the number of its city or county.
_LETTER_CODE = {letter: code for code, letter in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}
_ID_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1, 1)

_NOT_A_CARD_BEFORE = re.compile(
    r"(?:訂單|單號|編號|序號|貨號|條碼|發票|物流|追蹤|包裹|會員|統編|電話|手機|"
    r"\b(?:orders?|invoice|tracking|parcel|shipment|sku|serial|ref|reference|barcode|member|"
    r"phone|tel)\b)[^\d]{0,12}$",
    re.IGNORECASE,
)
_ACCOUNT_WORD = r"(?:匯款帳號|轉帳帳號|帳號|帳戶|賬號|戶頭|account|acct\.?|a/c)"


@dataclass(frozen=True)
class Finding:
    """A personal number in a text: its kind and where it is (end exclusive)."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """A text with personal numbers masked, and the kinds that were (in recogniser order)."""

    text: str
    kinds: tuple[str, ...]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of card numbers."""
    total = 0
    for place, char in enumerate(reversed(digits)):
        d = int(char)
        if place % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def taiwan_id_valid(number: str) -> bool:
    """The check digit of a national id (A123456789), a new resident certificate number
    (A800000014) or an old one (AB12345678): the letter's two digits weighted 1 and 9, the
    next nine places 8, 7, …, 1, 1 (an old number's second letter counts as its code's last
    digit); valid when the sum is a multiple of ten."""
    number = number.upper()
    if len(number) != 10 or number[0] not in _LETTER_CODE:
        return False
    second = number[1]
    if second.isalpha():
        if second not in _LETTER_CODE:
            return False
        second = str(_LETTER_CODE[second] % 10)
    rest = second + number[2:]
    if not rest.isdigit():
        return False
    code = _LETTER_CODE[number[0]]
    total = code // 10 + (code % 10) * 9
    total += sum(int(d) * w for d, w in zip(rest, _ID_WEIGHTS, strict=True))
    return total % 10 == 0


# ASCII word characters: \w would count a Chinese character as part of the number's word
# ("卡號4111…" must match).
_WORD = "A-Za-z0-9_"
_CARD = re.compile(rf"(?<![{_WORD}.\-/])\d(?:[ -]?\d){{12,18}}(?![{_WORD}\-/]|\.\d)")
_TW_ID = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][12]\d{8}(?![A-Za-z0-9])")
_RESIDENT_NEW = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][89]\d{8}(?![A-Za-z0-9])")
_RESIDENT_OLD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Da-d]\d{8}(?![A-Za-z0-9])")
_BANK_ACCOUNT = re.compile(
    _ACCOUNT_WORD
    + r"(?:\s|[:：#=]|no\.?|number|is|號碼|是|為)*"
    + r"(?:\(\d{3}\)\s?|\d{3}-)?"  # a bank code before the account: (822) or 822-
    + rf"(?P<number>\d(?:[ -]?\d){{7,15}})(?![{_WORD}\-])",
    re.IGNORECASE,
)
_PHONE = re.compile(
    rf"(?<![{_WORD}+\-])(?:"
    r"(?:\+?886[ -]?|0)9\d{2}[ -]?\d{3}[ -]?\d{3}"  # mobile: 0912-345-678, +886 912 345 678
    r"|(?:\+?886[ -]?|0)[2-8]\d?[ \-]?\d{3,4}[ -]?\d{4}"  # landline: 02-2345-6789
    r"|\(0[2-8]\d?\) ?\d{3,4}[ -]?\d{4}"  # (02) 2345-6789
    r"|\+(?!886)[1-9]\d{0,2}[ -]?\d{2,4}(?:[ -]?\d{2,4}){2,3}"  # +1 415 555 0100
    rf")(?![{_WORD}\-])"
)
_EMAIL = re.compile(
    rf"(?<![{_WORD}.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
    r"\.[A-Za-z]{2,}"
)


def _issuer(digits: str) -> bool:
    """Starts as a card issuer's numbers do: 3 (Amex, JCB, Diners), 4 (Visa), 5 (Mastercard),
    6 (Discover, UnionPay), or 2221-2720 (Mastercard's 2-series)."""
    return digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720


def _cards(folded: str) -> Iterable[Finding]:
    for m in _CARD.finditer(folded):
        raw = m.group()
        digits = re.sub(r"[ -]", "", raw)
        if not 13 <= len(digits) <= 19 or not _issuer(digits):
            continue
        if " " in raw and "-" in raw:
            continue  # mixed separators: a phone and a date side by side, not one number
        if not luhn_valid(digits):
            continue
        if _NOT_A_CARD_BEFORE.search(folded[max(0, m.start() - 30) : m.start()]):
            continue
        yield Finding(CARD, m.start(), m.end())


def _ids(pattern: re.Pattern[str], kind: str) -> Callable[[str], Iterable[Finding]]:
    def find(folded: str) -> Iterable[Finding]:
        for m in pattern.finditer(folded):
            if taiwan_id_valid(m.group()):
                yield Finding(kind, m.start(), m.end())

    return find


def _bank_accounts(folded: str) -> Iterable[Finding]:
    for m in _BANK_ACCOUNT.finditer(folded):
        yield Finding(BANK_ACCOUNT, m.start("number"), m.end("number"))


def _phones(folded: str) -> Iterable[Finding]:
    for m in _PHONE.finditer(folded):
        yield Finding(PHONE, m.start(), m.end())


def _emails(folded: str) -> Iterable[Finding]:
    for m in _EMAIL.finditer(folded):
        yield Finding(EMAIL, m.start(), m.end())


_RECOGNISERS: dict[str, Callable[[str], Iterable[Finding]]] = {
    CARD: _cards,
    NATIONAL_ID: _ids(_TW_ID, NATIONAL_ID),
    RESIDENT_ID: lambda folded: [
        *_ids(_RESIDENT_NEW, RESIDENT_ID)(folded),
        *_ids(_RESIDENT_OLD, RESIDENT_ID)(folded),
    ],
    BANK_ACCOUNT: _bank_accounts,
    PHONE: _phones,
    EMAIL: _emails,
}


def find(text: str, kinds: Iterable[str] = ALL_KINDS) -> list[Finding]:
    """The personal numbers of `kinds` in `text`, in order, none overlapping (the kind listed
    first in ALL_KINDS wins an overlap: a card number is not also a phone number)."""
    folded = text.translate(_FOLD)
    wanted = set(kinds)
    found: list[Finding] = []
    for kind in ALL_KINDS:
        if kind not in wanted:
            continue
        for finding in _RECOGNISERS[kind](folded):
            if not any(f.start < finding.end and finding.start < f.end for f in found):
                found.append(finding)
    return sorted(found, key=lambda f: f.start)


def _mask(kind: str, value: str) -> str:
    folded = value.translate(_FOLD)
    if kind == EMAIL:
        local, _, domain = value.partition("@")
        return local[:1] + MASK * 3 + "@" + domain
    if kind in (NATIONAL_ID, RESIDENT_ID):
        return value[0] + MASK * (len(value) - 3) + value[-2:]
    keep = 3 if kind == PHONE else 4
    places = [i for i, c in enumerate(folded) if c.isdigit()]
    hidden = set(places[:-keep]) if len(places) > keep else set(places)
    return "".join(MASK if i in hidden else c for i, c in enumerate(value))


def masked(text: str, kinds: Iterable[str] = ALL_KINDS) -> Redaction:
    """`text` with the personal numbers of `kinds` masked, and which kinds were found."""
    findings = find(text, kinds)
    if not findings:
        return Redaction(text, ())
    parts: list[str] = []
    last = 0
    for f in findings:
        parts.append(text[last : f.start])
        parts.append(_mask(f.kind, text[f.start : f.end]))
        last = f.end
    parts.append(text[last:])
    found = {f.kind for f in findings}
    return Redaction("".join(parts), tuple(k for k in ALL_KINDS if k in found))


def redact(text: str) -> Redaction:
    """The text as the log may keep it: cards, ids and bank accounts masked."""
    return masked(text, STORED_KINDS)


def mask_personal(text: str) -> str:
    """The text as it may leave the desk (exports, reports, drafts, logs): every kind masked."""
    return masked(text, ALL_KINDS).text


# The fields of logged events that hold what a person typed. The bot's turns are left alone:
# their question is the customer's (already masked) message, their reply is the shop's own
# knowledge, which may well hold the shop's own account for transfers.
TYPED_FIELDS = ("text", "comment", "question", "answer")


def redact_event(event: Event) -> Event:
    """The event as the log may keep it: what a customer or an agent typed with cards, ids and
    bank accounts masked, and on events that have one, `redacted` listing the kinds."""
    if isinstance(event, BotTurn):
        return event
    changes: dict[str, Any] = {}
    kinds: set[str] = set()
    for name in TYPED_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str):
            redaction = redact(value)
            if redaction.kinds:
                changes[name] = redaction.text
                kinds.update(redaction.kinds)
    if not changes:
        return event
    if hasattr(event, "redacted"):
        kinds.update(event.redacted)
        changes["redacted"] = tuple(k for k in ALL_KINDS if k in kinds)
    return dataclasses.replace(event, **changes)
