"""Excel workbooks: sheets, merged cells, rendered values and files that are not workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from ingest.loaders import load_file, xlsx
from ingest.model import LoadError


def test_rows_become_faq_items_with_sheet_locators(make_xlsx) -> None:
    path = make_xlsx(
        {
            "退貨": [
                ["退換貨常見問題"],
                [],
                ["問題", "答案", "分類"],
                ["退貨要怎麼申請？", "請於七天內申請。", "退換貨"],
            ],
            "空白": [],
        }
    )
    result = xlsx.load(path, "faq.xlsx")
    (item,) = result.items
    assert item.locator == "sheet=退貨;row=4"
    assert item.text == "問題: 退貨要怎麼申請？\n答案: 請於七天內申請。\n分類: 退換貨"
    assert item.metadata["sheet"] == "退貨" and item.metadata["row"] == 4
    assert result.problems == []  # the empty sheet is skipped silently


def test_merged_cells_are_filled_with_the_top_left_value(make_xlsx) -> None:
    path = make_xlsx(
        {
            "FAQ": [
                ["分類", "問題", "答案"],
                ["運費", "運費怎麼算？", "滿千免運。"],
                [None, "可以寄到離島嗎？", "可以，運費另計。"],
                ["付款", "可以刷卡嗎？", "可以。"],
            ]
        },
        merges={"FAQ": ["A2:A3"]},
    )
    items = xlsx.load(path, "faq.xlsx").items
    assert [i.metadata["field.分類"] for i in items] == ["運費", "運費", "付款"]


def test_rows_holding_only_a_merged_copy_are_not_items(make_xlsx) -> None:
    path = make_xlsx(
        {
            "FAQ": [
                ["分類", "問題", "答案"],
                ["運費", "運費怎麼算？", "滿千免運。"],
                [None, None, None],
            ]
        },
        merges={"FAQ": ["A2:A3"]},
    )
    assert len(xlsx.load(path, "faq.xlsx").items) == 1


def test_values_are_rendered_as_people_read_them(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "價目"
    ws.append(["問題", "答案", "價格", "折扣", "上架日", "數量", "熱銷"])
    ws.append(["A 方案多少錢？", "請見價格欄。", 1200.0, 0.15, dt.datetime(2024, 3, 5), 3, True])
    ws["D2"].number_format = "0%"
    path = tmp_path / "prices.xlsx"
    wb.save(path)
    meta = xlsx.load(path, "prices.xlsx").items[0].metadata
    assert meta["field.價格"] == "1200"
    assert meta["field.折扣"] == "15%"
    assert meta["field.上架日"] == "2024-03-05"
    assert meta["field.數量"] == "3"
    assert meta["field.熱銷"] == "TRUE"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.datetime(2024, 1, 2, 9, 30), "2024-01-02 09:30"),
        (dt.time(14, 0), "14:00"),
        (None, ""),
    ],
)
def test_render_cell(value, text) -> None:
    assert xlsx.render_cell(value) == text


def test_a_sheet_without_header_is_a_problem_and_other_sheets_still_load(make_xlsx) -> None:
    path = make_xlsx(
        {
            "FAQ": [["Question", "Answer"], ["How do I return an item?", "Within 7 days."]],
            "筆記": [["這是一段很長的內部說明，不是表格，也沒有表頭。", "再一段說明文字。"]],
        }
    )
    result = xlsx.load(path, "faq.xlsx")
    assert len(result.items) == 1
    (problem,) = result.problems
    assert problem.where == "sheet 筆記" and "no header row" in problem.reason


def test_no_sheet_with_a_header_is_a_load_error(make_xlsx) -> None:
    path = make_xlsx(
        {"筆記": [["這是一段很長的內部說明，不是表格，也沒有表頭。", "再一段說明文字。"]]}
    )
    with pytest.raises(LoadError, match=r"faq\.xlsx: no header row found.*問題 \| 答案"):
        xlsx.load(path, "faq.xlsx")


def test_hidden_sheets_are_read(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["問題", "答案"])
    wb.active.append(["Q1？", "A1"])
    hidden = wb.create_sheet("內部")
    hidden.append(["問題", "答案"])
    hidden.append(["Q2？", "A2"])
    hidden.sheet_state = "hidden"
    path = tmp_path / "faq.xlsx"
    wb.save(path)
    assert len(xlsx.load(path, "faq.xlsx").items) == 2


def test_not_a_zip_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"\x01\x02garbage\x00\xff" * 50)
    with pytest.raises(LoadError, match=r"broken\.xlsx: .*not a valid Excel workbook"):
        load_file(path)


def test_truncated_workbook_is_a_load_error(make_xlsx) -> None:
    path = make_xlsx({"FAQ": [["問題", "答案"], ["Q？", "A"]]})
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(LoadError, match=r"damaged or incomplete.*save it again as .xlsx"):
        load_file(path)


def test_password_protected_workbook_is_a_load_error(tmp_path: Path) -> None:
    # Excel saves an encrypted .xlsx as an OLE2 container holding an EncryptionInfo stream.
    path = tmp_path / "secret.xlsx"
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    path.write_bytes(ole2 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 512)
    with pytest.raises(LoadError, match=r"password-protected.*remove the password"):
        load_file(path)


def test_old_xls_content_under_xlsx_name(tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    with pytest.raises(LoadError, match=r"Excel 97-2003.*\.xlsx"):
        load_file(path)


def test_csv_text_under_xlsx_name(tmp_path: Path) -> None:
    path = tmp_path / "faq.xlsx"
    path.write_text("問題,答案\nQ,A\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"text file.*rename it to .csv"):
        load_file(path)
