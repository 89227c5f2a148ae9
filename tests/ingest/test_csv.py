"""CSV and TSV: encodings Taiwanese files really come in, delimiters, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import csv as csv_loader
from ingest.loaders import load_file
from ingest.loaders.encoding import decode_bytes
from ingest.model import LoadError

# 碁 銹 裏 are in cp950 but not in strict Big5; 臺北市 and 區 are everyday characters.
ROWS = [
    ["問題", "答案", "地區"],
    ["門市在哪裡？", "臺北市信義區松高路 1 號。", "臺北"],
    ["有碁盤嗎？", "銹色款已售完，裏面有說明。", "新北"],
]


def write(tmp_path: Path, rows, *, encoding: str, delimiter: str = ",", name: str = "faq.csv"):
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp950", "cp950"), ("utf-16", "utf-16")],
)
def test_encodings_decode_without_mojibake(tmp_path, encoding, detected) -> None:
    result = csv_loader.load(write(tmp_path, ROWS, encoding=encoding), "faq.csv")
    assert [i.metadata["question"] for i in result.items] == ["門市在哪裡？", "有碁盤嗎？"]
    assert result.items[0].metadata["answer"] == "臺北市信義區松高路 1 號。"
    assert result.items[1].metadata["answer"] == "銹色款已售完，裏面有說明。"
    assert all(i.metadata["encoding"] == detected for i in result.items)
    assert "\ufeff" not in result.items[0].text
    assert not any("\ufffd" in i.text for i in result.items)


def test_short_big5_file_is_not_taken_for_another_codec(tmp_path) -> None:
    # charset-normalizer alone calls this sample "johab"
    data = "問題,答案\n碁盤有現貨嗎？,銹色款式已售完，裏面有說明。\n".encode("cp950")
    decoded = decode_bytes(data, "faq.csv")
    assert decoded.encoding == "cp950"
    assert "碁盤" in decoded.text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom(codec) -> None:
    decoded = decode_bytes("問題,答案\n退貨？,好。\n".encode(codec), "faq.csv")
    assert decoded.encoding == codec and decoded.text.startswith("問題")


def test_western_single_byte_file_reads_as_cp1252() -> None:
    text = "Question;Réponse\nOù est le café ?;À côté de l'église.\n"
    assert decode_bytes(text.encode("cp1252"), "faq.csv").text == text


@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(";", "faq.csv"), ("\t", "faq.csv"), ("|", "faq.csv"), ("\t", "faq.tsv")],
)
def test_delimiters_are_sniffed(tmp_path, delimiter, name) -> None:
    rows = [
        ["Question", "Answer", "Category"],
        ["Do you ship abroad?", "Yes, to 20 countries.", "Shipping"],
        ["Can I pay by card?", "Yes, Visa and Master, no fee.", "Payment"],
    ]
    result = load_file(write(tmp_path, rows, encoding="utf-8", delimiter=delimiter, name=name))
    assert result.items[0].metadata["answer"] == "Yes, to 20 countries."
    assert result.items[1].metadata["answer"] == "Yes, Visa and Master, no fee."
    assert result.items[0].metadata["delimiter"] == delimiter


def test_commas_inside_answers_do_not_fool_the_sniffer(tmp_path) -> None:
    rows = [
        ["問題", "答案"],
        ["付款方式？", '"信用卡, ATM, 超商代碼"'],
        ["營業時間？", '"週一, 週二"'],
    ]
    result = csv_loader.load(write(tmp_path, rows, encoding="utf-8"), "faq.csv")
    assert result.items[0].metadata["answer"] == "信用卡, ATM, 超商代碼"


def test_locator_is_the_line_a_record_starts_on(tmp_path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text('問題,答案\n多行？,"第一行\n第二行"\n\n單行？,好\n', encoding="utf-8")
    result = csv_loader.load(path, "faq.csv")
    assert [i.locator for i in result.items] == ["row=2", "row=5"]
    assert result.items[0].metadata["answer"] == "第一行\n第二行"


def test_duplicate_and_unanswered_rows_are_reported_with_line_numbers(tmp_path) -> None:
    rows = [["問題", "答案"], ["Q1？", "A1"], ["Q2？", ""], ["Q1？", "A1"]]
    result = csv_loader.load(write(tmp_path, rows, encoding="utf-8"), "faq.csv")
    assert [p.where for p in result.problems] == ["row 3", "row 4"]
    assert "no answer" in result.problems[0].reason
    assert "row 4" in result.problems[1].reason and "row 2" in result.problems[1].reason


def test_csv_without_header_is_a_load_error(tmp_path) -> None:
    rows = [["退貨要怎麼申請？請問流程為何？", "請於收到商品後七天內登入會員中心申請退貨。"]]
    with pytest.raises(LoadError, match=r"faq\.csv: no header row found"):
        csv_loader.load(write(tmp_path, rows, encoding="utf-8"), "faq.csv")


def test_undecodable_bytes_are_a_load_error_suggesting_utf8(tmp_path) -> None:
    path = tmp_path / "weird.csv"
    path.write_bytes(bytes(range(128, 256)) * 20)
    with pytest.raises(
        LoadError, match=r"weird\.csv: the text encoding could not be detected.*UTF-8"
    ):
        load_file(path)


def test_binary_file_named_csv_is_a_load_error(tmp_path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(LoadError, match="binary file"):
        load_file(path)


def test_xlsx_named_csv_is_a_load_error(tmp_path, make_xlsx) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(make_xlsx({"S": [["問題", "答案"], ["Q", "A"]]}).read_bytes())
    with pytest.raises(LoadError, match=r"Excel .xlsx"):
        load_file(path)


def test_whitespace_only_utf16_file_is_empty(tmp_path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(" \r\n  \r\n".encode("utf-16"))
    with pytest.raises(LoadError, match="empty"):
        load_file(path)
