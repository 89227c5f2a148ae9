"""Contact details in one comparable form, and ownership checked on it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.orders.model import Order, OrderInvalid, normalise_phone


@pytest.mark.parametrize(
    "written",
    [
        "0912345678",
        "0912-345-678",
        "0912 345 678",
        "+886912345678",
        "+886 912-345-678",
        "886912345678",
        "+886-0912-345-678",
        "00886912345678",
        "912345678",
    ],
)
def test_a_taiwan_mobile_number_in_every_usual_form(written: str) -> None:
    assert normalise_phone(written) == "+886912345678"


def test_landlines_other_countries_and_non_numbers() -> None:
    assert normalise_phone("(02) 2345-6789") == "+886223456789"
    assert normalise_phone("+1 415 555 0100") == "+14155550100"
    assert normalise_phone("12345") is None
    assert normalise_phone("call me") is None


def test_ownership_by_phone_or_email_and_nothing_else() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    order = Order("#1001", "file", at, at, email="Mei@Example.tw", phone="0912-345-678")
    assert order.number == "1001"
    assert order.owned_by("0912345678") and order.owned_by("+886 912 345 678")
    assert order.owned_by("MEI@example.tw")
    assert not order.owned_by("0912345679")
    assert not order.owned_by("someone@example.tw")
    assert not order.owned_by("1001")
    bare = Order("1002", "file", at, at)
    assert not bare.owned_by("") and not bare.owned_by("0912345678")


def test_an_order_without_a_number_or_with_an_unknown_status_is_refused() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(OrderInvalid):
        Order("  # ", "file", at, at)
    with pytest.raises(OrderInvalid):
        Order("1", "file", at, at, status="lost")
