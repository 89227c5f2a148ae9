"""The configured ERP lookup against a fake ERP over HTTP: the mapping read, the token sent,
an unknown order told apart from an ERP that is slow or failing."""

from __future__ import annotations

import time

import pytest

from bot.orders.erp import ErpLookup, LookupUnavailable, value_at
from bot.orders.lookup import erp_lookup
from bot.settings import OrdersSettings
from tests.bot.orders.fake_erp import FIELDS, TOKEN, fake_erp


def lookup(url: str, timeout_s: float = 2.0) -> ErpLookup:
    settings = OrdersSettings(
        erp_url=f"{url}/api/orders/{{order_number}}",
        erp_headers={"Authorization": f"Bearer {TOKEN}"},
        erp_fields=FIELDS,
        erp_timeout_s=timeout_s,
    )
    built = erp_lookup(settings)
    assert built is not None
    return built


def test_an_order_is_read_through_the_mapping_with_the_shops_token() -> None:
    with fake_erp() as (url, seen):
        order = lookup(url).find("E100")
    assert order is not None
    assert (order.number, order.source, order.status, order.raw_status) == (
        "E100",
        "erp",
        "shipped",
        "配送中",
    )
    assert order.phone == "+886912345678" and order.email == "mei@example.tw"
    assert (order.carrier, order.tracking_number, order.expected_delivery) == (
        "新竹物流",
        "HCT-7788",
        "2026-12-05",
    )
    assert str(order.total) == "1500"
    assert seen[0]["path"] == "/api/orders/E100"
    assert seen[0]["authorization"] == f"Bearer {TOKEN}"


def test_an_unknown_order_is_none_and_a_number_that_would_change_the_url_is_never_sent() -> None:
    with fake_erp() as (url, seen):
        erp = lookup(url)
        assert erp.find("E999") is None
        assert erp.find("../admin") is None and erp.find("1?x=1") is None
    assert [s["path"] for s in seen] == ["/api/orders/E999"]


def test_a_slow_erp_times_out_and_a_failing_one_is_unavailable() -> None:
    with fake_erp(slow_s=3.0) as (url, _):
        erp = lookup(url, timeout_s=0.5)
        began = time.monotonic()
        with pytest.raises(LookupUnavailable):
            erp.find("S500")
        assert time.monotonic() - began < 2.0
        with pytest.raises(LookupUnavailable, match="502"):
            erp.find("B502")
    with pytest.raises(LookupUnavailable):
        lookup(url).find("E100")  # the server is gone


def test_paths_and_a_url_without_the_placeholder() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert value_at(data, "a.b[1].c") == 2
    assert value_at(data, "a.b[5].c") is None and value_at(data, "a.x") is None
    with pytest.raises(ValueError, match="order_number"):
        ErpLookup(url="https://erp.example/orders", fields={})
    with pytest.raises(ValueError, match="colour"):
        ErpLookup(url="https://erp.example/{order_number}", fields={"colour": "x"})
