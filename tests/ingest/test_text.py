"""Plain text, Markdown sections and the visible text of web pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import load_file
from ingest.model import LoadError


def test_txt_is_one_item(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("營業時間\r\n週一至週五 9:00-18:00\r\n\r\n國定假日公休。\r\n".encode("cp950"))
    (item,) = load_file(path).items
    assert item.locator == "section=1"
    assert item.text == "營業時間\n週一至週五 9:00-18:00\n\n國定假日公休。"
    assert not item.is_faq


def test_markdown_is_split_at_headings(tmp_path: Path) -> None:
    path = tmp_path / "policy.md"
    path.write_text(
        "前言文字。\n\n# 退換貨\n\n## 退貨政策\n七天鑑賞期。\n\n```\n# 這不是標題\n```\n\n"
        "## Shipping ##\nFree over NT$1000.\n",
        encoding="utf-8",
    )
    items = load_file(path).items
    assert [i.locator for i in items] == ["section=1", "section=2", "section=3"]
    assert "title" not in items[0].metadata and items[0].text == "前言文字。"
    assert items[1].metadata["title"] == "退貨政策"
    assert items[1].text.startswith("退貨政策\n七天鑑賞期。") and "# 這不是標題" in items[1].text
    assert (
        items[2].metadata["title"] == "Shipping" and items[2].text == "Shipping\nFree over NT$1000."
    )


def test_html_visible_text_in_heading_sections(tmp_path: Path) -> None:
    path = tmp_path / "help.html"
    path.write_text(
        "<html><head><title>客服中心</title><style>p{color:red}</style></head><body>"
        "<p>歡迎光臨。</p><script>var x = '不要看到我';</script>"
        "<h2>退貨&amp;換貨</h2><p>請於七天內\n申請。</p><ul><li>保留包裝</li><li>附上發票</li></ul>"
        "<h2>Shipping</h2><table><tr><td>Taiwan</td><td>Free</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    items = load_file(path).items
    assert [i.metadata.get("title") for i in items] == ["客服中心", "退貨&換貨", "Shipping"]
    assert items[0].text == "歡迎光臨。"
    assert items[1].text == "退貨&換貨\n請於七天內申請。\n保留包裝\n附上發票"
    assert items[2].text == "Shipping\nTaiwan Free"
    assert not any("不要看到我" in i.text or "color" in i.text for i in items)


def test_html_without_visible_text_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "app.htm"
    path.write_text("<html><body><div id='root'></div><script>render()</script></body></html>")
    with pytest.raises(LoadError, match="no visible text"):
        load_file(path)
