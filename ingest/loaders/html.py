"""Saved web pages (.html, .htm): the visible text, split into sections at h1–h6 headings.

Scripts, styles and other invisible parts are left out. Example::

    load(Path("help.html"), "help.html").items[0].metadata["title"]   # "退貨說明"
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from ingest.language import CJK_PUNCT, HAN
from ingest.loaders.text import read_text
from ingest.model import Item, LoadError, LoadResult

_INVISIBLE = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "blockquote",
    "pre",
    "dt",
    "dd",
    "dl",
    "hr",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "details",
    "summary",
}
_CELL = {"td", "th"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CJK = f"{HAN}\u3040-\u30ff{CJK_PUNCT}"
# A source line break between two Chinese characters is layout, not a space.
_CJK_BREAK = re.compile(f"(?<=[{_CJK}])[ \t]*\n\\s*(?=[{_CJK}])")


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[tuple[str, list[str]]] = [("", [])]
        self.page_title: list[str] = []
        self._hidden = 0  # depth inside invisible elements
        self._in_title = False
        self._heading: list[str] | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag in _HEADINGS and not self._hidden:
            self._heading = []
        elif tag == "pre":
            self._pre += 1
        if tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _HEADINGS and self._heading is not None:
            title = " ".join("".join(self._heading).split())
            self._heading = None
            if title:
                self.sections.append((title, []))
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag in _BLOCK and tag not in _VOID:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.page_title.append(data)
            return
        if self._hidden:
            return
        if self._heading is not None:
            self._heading.append(data)
            return
        if not self._pre:
            data = _CJK_BREAK.sub("", data)
            data = re.sub(r"\s+", " ", data)
        self._emit(data)

    def _emit(self, text: str) -> None:
        self.sections[-1][1].append(text)


def _tidy(parts: list[str]) -> str:
    text = "".join(parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    # Every block element is a line of its own; nested blocks leave no blank lines behind.
    return "\n".join(line for line in lines if line)


def load(path: Path, source: str) -> LoadResult:
    parser = _VisibleText()
    parser.feed(read_text(path, source))
    parser.close()
    page_title = " ".join("".join(parser.page_title).split())
    items: list[Item] = []
    for index, (heading, parts) in enumerate(parser.sections):
        body = _tidy(parts)
        if not body:
            continue
        title = heading or (page_title if index == 0 else "")
        number = len(items) + 1
        metadata: dict[str, str | int] = {"section": number}
        if title:
            metadata["title"] = title
        text = f"{heading}\n{body}" if heading else body
        items.append(Item(text, f"section={number}", metadata))
    if not items:
        raise LoadError(
            source,
            "the web page has no visible text (it may be built by JavaScript); save the page's "
            "text as .txt or copy it into a document and upload that",
        )
    return LoadResult(source, items)
