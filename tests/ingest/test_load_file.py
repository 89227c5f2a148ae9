"""load_file: dispatch by extension and the whole-file errors every format shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_EXTENSIONS, load_file
from ingest.model import LoadError


def test_supported_extensions() -> None:
    assert {".pdf", ".xlsx", ".xlsm", ".csv", ".tsv", ".txt", ".md", ".html", ".htm"} == set(
        SUPPORTED_EXTENSIONS
    )


def test_extension_is_matched_case_insensitively_and_source_defaults_to_name(tmp_path) -> None:
    path = tmp_path / "FAQ.CSV"
    path.write_text("問題,答案\nQ？,A\n", encoding="utf-8")
    assert load_file(path).source == "FAQ.CSV"
    assert load_file(path, source="shop/FAQ.CSV").items[0].locator == "row=2"


def test_unsupported_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert info.value.source == "slides.pptx"
    assert "unsupported file type '.pptx'" in info.value.reason
    assert all(ext in info.value.reason for ext in SUPPORTED_EXTENSIONS)


def test_old_xls_says_save_as_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "faq.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(LoadError, match=r"faq\.xls: .*save it as \.xlsx"):
        load_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"gone\.pdf: file not found"):
        load_file(tmp_path / "gone.pdf")


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n "])
@pytest.mark.parametrize("name", ["faq.csv", "manual.pdf", "faq.xlsx", "notes.md"])
def test_empty_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoadError, match=rf"{name.replace('.', '[.]')}: the file is empty"):
        load_file(path)


def test_too_large_file_names_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" * 300_000)  # 1.1 MB
    with pytest.raises(
        LoadError, match=r"big\.csv: the file is 1\.1 MB, more than the 1\.0 MB limit"
    ):
        load_file(path, max_bytes=1024 * 1024)


def test_unexpected_errors_become_load_errors(tmp_path: Path, monkeypatch) -> None:
    from ingest.loaders import LOADERS

    def explode(path: Path, source: str):
        raise ValueError("boom")

    monkeypatch.setitem(LOADERS, ".txt", explode)
    path = tmp_path / "a.txt"
    path.write_text("hello")
    with pytest.raises(LoadError, match=r"a\.txt: the file could not be read \(ValueError: boom\)"):
        load_file(path)
