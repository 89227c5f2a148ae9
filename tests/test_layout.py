"""The folders are the architecture: imports flow one way, and this test keeps them so.

ingest ← knowledge ← handoff ← bot ← eval: each package may import those to its left only;
nothing but the app imports the web layer (bot.api), and the product imports no measurement.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package → the first-party packages it must never import
FORBIDDEN = {
    "ingest": {"knowledge", "handoff", "bot", "eval"},
    "knowledge": {"handoff", "bot", "eval"},
    "handoff": {"bot", "eval"},
    "bot": {"eval"},
}
# Only these modules may import the web layer: the app factory, and the routers themselves
# (each router from the shared API modules, never from another router).
WEB_IMPORTERS = ("bot.app", "bot.api.")


def imports_of(path: Path) -> set[str]:
    """Every module named in an import statement of the file (at any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found.append((dotted.removesuffix(".__init__"), path))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, path in modules(package)
        for imported in sorted(imports_of(path))
        if imported.split(".")[0] in FORBIDDEN[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_app_imports_the_web_layer() -> None:
    wrong = [
        f"{name} imports {imported}"
        for package in ("bot", "handoff", "knowledge", "ingest")
        for name, path in modules(package)
        for imported in sorted(imports_of(path))
        if imported.startswith("bot.api") and not name.startswith(WEB_IMPORTERS)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_layout_test_sees_a_wrong_import(tmp_path: Path) -> None:
    """The scanner itself: a file that imports bot from handoff is found."""
    wrong = tmp_path / "gate.py"
    wrong.write_text("def f():\n    from bot.conversation import events\n", encoding="utf-8")
    assert "bot.conversation" in imports_of(wrong)
