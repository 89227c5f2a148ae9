"""Order exports into the store: `kefu orders import` (a real process) and the admin upload,
with zh-TW and English headers; bad rows reported by their row number, good rows imported."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from bot.orders.sheet import import_orders
from bot.orders.store import OrderStore
from bot.services import Services
from tests.conftest import KEFU

CHINESE_CSV = """訂單編號,下單時間,電話,Email,狀態,物流,追蹤碼,預計到貨,金額
A1001,2026/12/01 10:00,0912-345-678,mei@example.tw,已出貨,黑貓宅急便,900123456789,2026-12-04,1280
A1002,2026/12/01 11:00,0922333444,,處理中,,,,560
A1003,2026/12/01 12:00,0933444555,,傳送到月球,,,,300
A1004,2026-12-01,不是電話,,已取消,,,,0
,2026-12-01,0955666777,,已出貨,,,,100
A1005,昨天,0966777888,,已出貨,,,,100
"""


def test_chinese_headers_with_bad_rows_reported_by_row_and_the_good_ones_imported(
    services: Services,
) -> None:
    report = import_orders(services.orders, "訂單匯出.csv", CHINESE_CSV.encode("utf-8-sig"))
    assert report.columns["訂單編號"] == "number" and report.columns["追蹤碼"] == "tracking_number"
    assert report.saved["created"] == 2
    rows = dict(report.problems)
    assert sorted(rows) == [4, 5, 6, 7]
    assert "傳送到月球" in rows[4] and "不是電話" in rows[5]
    assert "order number" in rows[6] and "昨天" in rows[7]
    [shipped] = services.orders.find("A1001")
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == (
        "shipped",
        "黑貓宅急便",
        "900123456789",
    )
    assert shipped.phone == "+886912345678" and shipped.expected_delivery == "2026-12-04"
    assert shipped.created_at.isoformat() == "2026-12-01T02:00:00+00:00"  # Taiwan time
    assert services.orders.find("A1003") == [] and services.orders.find("A1004") == []
    # the same file again: nothing changes
    again = import_orders(services.orders, "訂單匯出.csv", CHINESE_CSV.encode("utf-8-sig"))
    assert again.saved["unchanged"] == 2 and services.orders.count() == 2


def test_a_big5_csv_is_read(services: Services) -> None:
    text = "訂單號碼,手機,訂單狀態\n5001,0912345678,已送達\n"
    report = import_orders(services.orders, "orders.csv", text.encode("cp950"))
    assert report.saved["created"] == 1 and services.orders.find("5001")[0].status == "delivered"


def english_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(
        [
            "Order Number",
            "Email",
            "Phone",
            "Status",
            "Carrier",
            "Tracking Number",
            "Tracking URL",
            "Total",
            "Currency",
            "Created At",
        ]
    )
    sheet.append(
        [
            7001,
            "Amy@Example.com",
            "+886 912 000 111",
            "Shipped",
            "Chunghwa Post",
            "EE123456789TW",
            "https://postserv.post.gov.tw/?no=EE123456789TW",
            42.5,
            "USD",
            "2026-11-30T08:00:00+00:00",
        ]
    )
    sheet.append([7002, "bob@example", None, "pending", None, None, None, "abc", None, None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_command_imports_an_xlsx_with_english_headers(
    services: Services, sql_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(english_workbook())
    done = subprocess.run(
        [*KEFU, "orders", "import", str(path), "--data-dir", str(tmp_path / "unused")],
        capture_output=True,
        text=True,
        env={**os.environ, "KEFU_CONVERSATION__DATABASE_URL": sql_url, "COLUMNS": "200"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "row 3" in done.stdout and "bob@example" in done.stdout
    [order] = services.orders.find("7001")
    assert (order.email, order.phone, order.currency) == ("amy@example.com", "+886912000111", "USD")
    assert str(order.total) == "42.5" and order.status == "shipped"


def test_the_command_refuses_a_file_with_no_order_number_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name,phone\nmei,0912345678\n", encoding="utf-8")
    done = subprocess.run(
        [*KEFU, "orders", "import", str(path), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert done.returncode == 1 and "order-number column" in done.stdout


@pytest.fixture
def admin(kefu_url: str, services: Services) -> Iterator[httpx.Client]:
    services.accounts.add("boss", "correct horse battery", "admin", "老闆")
    with httpx.Client(base_url=kefu_url, timeout=30) as client:
        logged = client.post(
            "/api/auth/login", json={"username": "boss", "password": "correct horse battery"}
        )
        assert logged.status_code == 200
        yield client


def test_an_admin_uploads_an_order_file(admin: httpx.Client, services: Services) -> None:
    response = admin.post(
        "/api/admin/orders/import",
        files={"file": ("訂單.csv", CHINESE_CSV.encode("utf-8"), "text/csv")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["imported"] == 2 and [p["row"] for p in body["problems"]] == [4, 5, 6, 7]
    assert services.orders.count() == 2
    refused = admin.post(
        "/api/admin/orders/import", files={"file": ("orders.pdf", b"%PDF-1.4", "application/pdf")}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_order_file"


def test_the_upload_is_for_admins_only(kefu_url: str, services: Services) -> None:
    response = httpx.post(
        f"{kefu_url}/api/admin/orders/import", files={"file": ("o.csv", b"order,phone\n1,2\n")}
    )
    assert response.status_code == 401 and services.orders.count() == 0


def test_store_is_shared_with_the_conversations(services: Services) -> None:
    # the order table lives in the conversation store's database, migrated with it
    assert isinstance(services.orders, OrderStore) and services.orders.count() == 0
