"""PDFs: page items, cleaned text, pages without text, encrypted and damaged files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.loaders import load_file, pdf
from ingest.model import LoadError

from .conftest import CJK_FONT

POLICY = (
    "Returns are accepted within seven days of delivery. Log in to your account, open the "
    "order and choose Return. Refunds reach your card within five working days."
)


def test_one_item_per_page_with_title(make_pdf) -> None:
    path = make_pdf([POLICY, "Shipping is free for orders over NT$1000."], title="Help Centre")
    result = pdf.load(path, "manual.pdf")
    assert [i.locator for i in result.items] == ["page=1", "page=2"]
    assert [i.metadata["page"] for i in result.items] == [1, 2]
    assert all(i.metadata["title"] == "Help Centre" for i in result.items)
    assert "seven days" in result.items[0].text and not result.items[0].is_faq
    assert result.problems == []


def test_page_without_text_is_reported_not_dropped_silently(make_pdf) -> None:
    result = pdf.load(make_pdf([POLICY, None, "Contact us by LINE."]), "manual.pdf")
    assert [i.metadata["page"] for i in result.items] == [1, 3]
    (problem,) = result.problems
    assert problem.where == "page 2"
    assert "no text layer" in problem.reason and "OCR" in problem.reason


def test_image_only_pdf_is_a_load_error(make_pdf) -> None:
    with pytest.raises(LoadError, match=r"scan\.pdf: .*image-only.*OCR"):
        load_file(make_pdf([None, None], name="scan.pdf"))


def test_encrypted_pdf_is_a_load_error(make_pdf, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=make_pdf([POLICY]))
    writer.encrypt(user_password="s3cret", owner_password="owner")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoadError, match=r"locked\.pdf: .*encrypted.*remove the password"):
        load_file(path)


def test_pdf_with_only_an_owner_password_opens(make_pdf, tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=make_pdf([POLICY]))
    writer.encrypt(user_password="", owner_password="owner")  # "no copying" PDFs look like this
    path = tmp_path / "restricted.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    assert "seven days" in load_file(path).items[0].text


def test_random_bytes_after_a_pdf_header_are_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096))
    with pytest.raises(LoadError, match=r"broken\.pdf: .*(damaged|no pages)"):
        load_file(path)


def test_truncated_pdf_is_a_load_error_or_keeps_readable_pages(make_pdf, tmp_path: Path) -> None:
    data = make_pdf([POLICY, POLICY]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        result = load_file(path)
    except LoadError as exc:
        assert exc.source == "cut.pdf" and ("damaged" in exc.reason or "text layer" in exc.reason)
    else:
        assert result.items or result.problems


def test_not_a_pdf_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("just some text", encoding="utf-8")
    with pytest.raises(LoadError, match="not a PDF file"):
        load_file(path)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # A wrapped line of Chinese prose is joined; short list lines stay apart.
        (
            "退貨申請須於收到商品後七天內提出，請登入會員中心\n填寫退貨單。\n財政局\n教育局",
            "退貨申請須於收到商品後七天內提出，請登入會員中心填寫退貨單。\n財政局\n教育局",
        ),
        # A line ending in 、 or ， continues whatever its length.
        (
            "戶政事務所－松山、信義、\n大安、中山等十二所\n秘書處",
            "戶政事務所－松山、信義、大安、中山等十二所\n秘書處",
        ),
        # Letter-spaced CJK from character spacing is closed up; real gaps stay.
        ("退 貨 申 請 流 程\n捷運工程局 東、南、北", "退貨申請流程\n捷運工程局 東、南、北"),
        # Paragraph breaks survive; runs of spaces shrink; English lines are left alone.
        (
            "First  paragraph\nline two\n\n\nSecond paragraph",
            "First paragraph\nline two\n\nSecond paragraph",
        ),
        # Kangxi radicals some fonts map to become the ordinary characters.
        ("\u2f47\u672c", "日本"),
        ("請於。\n下一段", "請於。\n下一段"),
        # A page of short lines is a list, not wrapped prose.
        ("財政局\n教育局\n", "財政局\n教育局"),
        ("短句\n，接著", "短句，接著"),
    ],
)
def test_clean_page_text(raw: str, clean: str) -> None:
    assert pdf.clean_page_text(raw) == clean


def test_chinese_pdf_end_to_end(make_pdf) -> None:
    assert CJK_FONT.exists(), f"no CJK font at {CJK_FONT}: run `make test-deps` (as root)"
    body = (
        "退貨申請須於收到商品後七天內提出，請登入會員中心填寫退貨單，客服人員將於一個工作天內與您聯繫。"
        * 2
    )
    path = make_pdf([body + "\n財政局\n教育局"], name="zh.pdf", font=CJK_FONT)
    raw = PdfReader(io.BytesIO(path.read_bytes())).pages[0].extract_text()
    assert "\n" in raw.split("財政局")[0]  # pypdf breaks the prose where the PDF wrapped it
    (item,) = pdf.load(path, "zh.pdf").items
    assert item.text == body + "\n財政局\n教育局"
