"""Plain text (.txt) and Markdown (.md): decoded like CSV, Markdown split into heading sections.

Example::

    load(Path("policy.md"), "policy.md").items[1].locator   # "section=2"
    load(Path("notes.txt"), "notes.txt").items[0].locator   # "section=1" (the whole file)
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.encoding import decode_bytes
from ingest.model import Item, LoadError, LoadResult

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*(?:#+[ \t]*)?$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def read_text(path: Path, source: str) -> str:
    """The file's text with the encoding detected and line ends normalised; error if blank."""
    text = decode_bytes(path.read_bytes(), source).text.lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError(source, "the file is empty (it holds only blank space); export it again")
    return text


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) pairs in order; text before the first heading has the heading ""."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            sections.append((match.group(2).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(title, "\n".join(body).strip()) for title, body in sections]


def load(path: Path, source: str) -> LoadResult:
    text = read_text(path, source)
    if path.suffix.lower() != ".md":
        return LoadResult(source, [Item(text.strip(), "section=1", {"section": 1})])
    items: list[Item] = []
    for title, body in markdown_sections(text):
        if not body:
            continue  # a heading straight followed by a sub-heading: the sub-section carries it
        number = len(items) + 1
        metadata: dict[str, str | int] = {"section": number}
        if title:
            metadata["title"] = title
        items.append(Item(f"{title}\n{body}" if title else body, f"section={number}", metadata))
    if not items:
        # Only headings: still worth keeping as one piece of text.
        items.append(Item(text.strip(), "section=1", {"section": 1}))
    return LoadResult(source, items)
