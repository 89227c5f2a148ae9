"""Every real messy file in shared/datasets/messy_files loads without mojibake or fails clearly."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_items
from ingest.loaders import load_file
from ingest.model import LoadError

MESSY = (
    Path(os.environ["KEFU_DATASETS"]) / "messy_files"
    if os.environ.get("KEFU_DATASETS")
    else Path(__file__).resolve().parents[3] / "shared" / "datasets" / "messy_files"
)
pytestmark = pytest.mark.skipif(
    not MESSY.is_dir(),
    reason=f"shared data sets not found at {MESSY} (no shared/ next to the repo)",
)

# What each file really holds, checked by looking at it: (encoding, texts that must appear).
EXPECTED: dict[str, tuple[str | None, list[str]]] = {
    "A_LVR_LAND_A.CSV": ("cp950", ["臺北市文山區木柵路二段", "鄉鎮市區: 文山區", "住宅大樓"]),
    "DataGov25511.csv": ("cp950", ["三軍總醫院松山分院附設民眾診療服務處", "區域醫院"]),
    "orglist-100.CSV": ("utf-16", ["國民大會", "台北市中華路一段五三號"]),
    "agency_list_zh.pdf": (None, ["臺北市政府", "稅捐稽徵處", "戶政事務所－松山、信義"]),
    "agency_list_en.pdf": (None, ["Taipei City Government", "Department of Finance"]),
    "tpe_departments_full.xlsx": (None, ["臺北市政府體育局", "區公所: http://ssdo.gov.taipei/"]),
}
MUST_LOAD = {"A_LVR_LAND_A.CSV", "DataGov25511.csv", "orglist-100.CSV"}
# Typical remains of a wrong decode: UTF-8 read as Latin-1/cp1252, or Big5 read as Latin-1.
MOJIBAKE = re.compile(
    "[\u00c0-\u00ff][\u0080-\u00bf]|\u00e2\u20ac|[\u00a4\u00a5\u00a6][\u00a1-\u00fe]"
)


def _files() -> list[Path]:
    return sorted(p for p in MESSY.iterdir() if p.is_file()) if MESSY.is_dir() else []


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_messy_file_loads_cleanly_or_fails_clearly(path: Path) -> None:
    try:
        result = load_file(path)
    except LoadError as exc:
        assert path.name not in MUST_LOAD, f"{path.name} must load, got: {exc}"
        assert exc.source == path.name and len(exc.reason) > 20
        return
    assert result.items, f"{path.name} loaded no items"
    text = "\n".join(item.text for item in result.items)
    assert "\ufffd" not in text
    assert not MOJIBAKE.search(text), MOJIBAKE.search(text)
    encoding, expected = EXPECTED.get(path.name, (None, []))
    for snippet in expected:
        assert snippet in text, f"{snippet!r} not found in {path.name}"
    if encoding:
        assert {item.metadata["encoding"] for item in result.items} == {encoding}
    for problem in result.problems:
        assert problem.source == path.name and problem.reason
    chunks = chunk_items(result)
    assert chunks and all(c.metadata["source"] == path.name for c in chunks)
    assert all(
        isinstance(v, (str, int, float, bool)) for c in chunks[:200] for v in c.metadata.values()
    )


def test_messy_xlsx_reports_the_sheet_without_header() -> None:
    path = MESSY / "tpe_departments_full.xlsx"
    if not path.exists():
        pytest.skip(f"{path} not found")
    result = load_file(path)
    sheets = {item.metadata["sheet"] for item in result.items}
    assert sheets == {"Sheet1", "12 區"}
    assert any(
        p.where == "sheet 台北市政府組織架構" and "no header row" in p.reason
        for p in result.problems
    )
