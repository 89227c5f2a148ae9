"""The row model: header detection, question/answer columns, duplicates and gaps."""

from __future__ import annotations

import pytest

from ingest.model import LoadError
from ingest.rows import column_letter, find_header_row, find_qa_columns, read_rows, rows_result

FAQ = [
    ["退貨要怎麼申請？", "請於收到商品七天內登入會員中心申請。", "退換貨"],
    ["運費怎麼算？", "滿 1000 元免運費。", "運費"],
]


def test_header_found_below_title_and_blank_rows() -> None:
    grid = [["客服常見問題 2024", "", ""], ["", "", ""], ["問題", "答案", "分類"], *FAQ]
    assert find_header_row(grid) == 2
    sheet = read_rows(grid, source="faq.xlsx", sheet="退貨")
    assert sheet.header_row == 3
    assert [i.locator for i in sheet.items] == ["sheet=退貨;row=4", "sheet=退貨;row=5"]
    first = sheet.items[0]
    assert (
        first.text
        == "問題: 退貨要怎麼申請？\n答案: 請於收到商品七天內登入會員中心申請。\n分類: 退換貨"
    )
    assert first.is_faq
    assert first.metadata == {
        "sheet": "退貨",
        "row": 4,
        "question": "退貨要怎麼申請？",
        "answer": "請於收到商品七天內登入會員中心申請。",
        "field.分類": "退換貨",
    }
    assert sheet.problems == []


def test_title_merged_across_columns_is_not_the_header() -> None:
    grid = [
        ["常見問題", "常見問題", "常見問題"],
        ["分類", "Q", "A"],
        ["運費", "How much?", "Free."],
    ]
    assert find_header_row(grid) == 1


def test_a_two_cell_title_loses_to_the_row_naming_question_and_answer() -> None:
    grid = [["本公司 FAQ", "更新日期"], ["Question", "Answer"], ["How to return?", "Call us."]]
    assert find_header_row(grid) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["問題", "答案"], (0, 1)),
        (["分類", "題目", "解答"], (1, 2)),
        (["Q", "A"], (0, 1)),
        (["  question ", "ANSWER"], (0, 1)),
        (["FAQ", "內容"], (0, 1)),
        (["提問：", "回答："], (0, 1)),
        (["常見問題", "說明"], (0, 1)),
        (["問題分類", "常見問題內容", "回答"], (1, 2)),  # 問題分類 is a category column
        (["Customer Question", "Our Answer"], (0, 1)),
        (["Category", "Name"], (None, None)),
        (["Question ID", "Question", "Answer"], (1, 2)),
    ],
)
def test_question_and_answer_columns_by_name(headers, expected) -> None:
    assert find_qa_columns(headers) == expected


def test_english_headers_and_other_columns_as_fields() -> None:
    grid = [
        ["Category", "Question", "Answer", "Updated"],
        ["Shipping", "How long is delivery?", "Two to three days.", "2024-05-01"],
    ]
    item = read_rows(grid, source="faq.csv").items[0]
    assert item.locator == "row=2"
    assert item.text.splitlines() == [
        "Question: How long is delivery?",
        "Answer: Two to three days.",
        "Category: Shipping",
        "Updated: 2024-05-01",
    ]
    assert item.metadata["field.Category"] == "Shipping"
    assert item.metadata["field.Updated"] == "2024-05-01"
    assert "sheet" not in item.metadata
    assert all(isinstance(v, (str, int)) for v in item.metadata.values())


def test_empty_rows_skipped_and_empty_cells_left_out() -> None:
    grid = [["問題", "答案", "備註"], ["", "", ""], ["營業時間？", "週一至週五 9:00-18:00", ""]]
    sheet = read_rows(grid, source="faq.csv")
    assert len(sheet.items) == 1
    assert sheet.items[0].metadata["row"] == 3
    assert "備註" not in sheet.items[0].text
    assert "field.備註" not in sheet.items[0].metadata
    assert sheet.problems == []


def test_question_without_answer_is_kept_and_reported() -> None:
    grid = [["問題", "答案"], ["可以開發票嗎？", ""], ["營業時間？", "9:00-18:00"]]
    sheet = read_rows(grid, source="faq.xlsx", sheet="一般")
    assert [i.metadata["row"] for i in sheet.items] == [2, 3]
    assert "answer" not in sheet.items[0].metadata
    (problem,) = sheet.problems
    assert problem.where == "sheet 一般 row 2"
    assert "no answer" in problem.reason and "可以開發票嗎" in problem.reason
    assert "答案" in problem.reason  # says which column to fill in


def test_duplicate_rows_keep_the_first_and_name_both() -> None:
    grid = [["問題", "答案", "分類"], *FAQ, list(FAQ[0])]
    sheet = read_rows(grid, source="faq.xlsx", sheet="退貨")
    assert [i.metadata["row"] for i in sheet.items] == [2, 3]
    (problem,) = sheet.problems
    assert problem.where == "sheet 退貨 row 4"
    assert "row 4" in problem.reason and "row 2" in problem.reason


def test_repeated_header_row_is_skipped() -> None:
    grid = [["問題", "答案"], ["Q1？", "A1"], ["問題", "答案"], ["Q2？", "A2"]]
    assert [i.metadata["question"] for i in read_rows(grid, source="f.csv").items] == [
        "Q1？",
        "Q2？",
    ]


def test_no_header_row_is_a_problem_naming_the_sheet() -> None:
    grid = [
        ["退貨要怎麼申請？請問流程是什麼？", "請於收到商品後七天內，登入會員中心申請退貨。"],
        ["運費怎麼計算？", "單筆消費滿一千元免運費，未滿則酌收八十元。"],
    ]
    sheet = read_rows(grid, source="faq.xlsx", sheet="說明")
    assert sheet.items == [] and sheet.header_row is None
    (problem,) = sheet.problems
    assert problem.where == "sheet 說明"
    assert "'說明'" in problem.reason and "問題 | 答案" in problem.reason


def test_table_without_question_column_uses_a_wordy_cell_and_says_so() -> None:
    grid = [["代碼", "機關名稱", "電話"], ["100000000A", "國民大會", "02-23311312"]]
    sheet = read_rows(grid, source="org.csv")
    item = sheet.items[0]
    assert item.metadata["question"] == "國民大會"
    assert "answer" not in item.metadata
    assert item.metadata["field.代碼"] == "100000000A"
    (problem,) = sheet.problems
    assert "no question/answer columns" in problem.reason and "代碼" in problem.reason


def test_unnamed_and_repeated_headers_get_distinct_labels() -> None:
    grid = [["", "問題", "答案", "備註", "備註"], ["1", "Q？", "A", "x", "y"]]
    meta = read_rows(grid, source="f.csv").items[0].metadata
    assert meta["field.column A"] == "1"
    assert meta["field.備註"] == "x" and meta["field.備註 (2)"] == "y"


def test_row_numbers_can_be_given_for_csv_lines() -> None:
    grid = [["問題", "答案"], ["多行答案？", "第一行\n第二行"], ["Q？", "A"]]
    sheet = read_rows(grid, source="f.csv", row_numbers=[1, 2, 4])
    assert [i.locator for i in sheet.items] == ["row=2", "row=4"]
    assert sheet.items[0].text == "問題: 多行答案？\n答案: 第一行\n第二行"


def test_rows_result_raises_when_no_sheet_has_a_header() -> None:
    no_header = read_rows(
        [["一段很長的說明文字，沒有任何表頭。", "另一段文字。"]], source="f.xlsx", sheet="A"
    )
    with pytest.raises(LoadError, match=r"no header row found.*問題 \\| 答案"):
        rows_result("f.xlsx", [no_header])


def test_rows_result_raises_for_a_header_without_data() -> None:
    only_header = read_rows([["問題", "答案"]], source="f.csv")
    with pytest.raises(LoadError, match="no data rows"):
        rows_result("f.csv", [only_header])


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
