"""The `kefu` command and a real uvicorn server, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import KEFU, kefu_server

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("models")]


def kefu(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [*KEFU, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import DEMO_FILES

    data = tmp_path_factory.mktemp("cli") / "data"
    done = kefu("ingest", str(DEMO_FILES), data_dir=data)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shop_faq.xlsx" in done.stdout and "added" in done.stdout
    return data


def test_cli_search_json(ingested: Path):
    done = kefu("search", "退貨要怎麼申請", "--json", "-k", "3", data_dir=ingested)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert len(body["hits"]) == 3
    top = body["hits"][0]
    assert top["source"] == "shop_faq.xlsx" and "退貨" in top["text"]
    assert set(top) >= {"id", "text", "source", "locator", "score", "scores"}


def test_cli_reingest_reports_unchanged_and_dry_run(ingested: Path):
    from tests.conftest import DEMO_FILES

    done = kefu("ingest", str(DEMO_FILES), "--dry-run", data_dir=ingested)
    assert done.returncode == 0 and "dry run" in done.stdout


def test_cli_failure_names_the_file_and_exits_nonzero(ingested: Path, tmp_path: Path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    done = kefu("ingest", str(bad), data_dir=ingested)
    assert done.returncode == 1
    assert "broken.xlsx" in done.stdout
    # what was there keeps serving
    search = kefu("search", "退貨要怎麼申請", "--json", data_dir=ingested)
    assert json.loads(search.stdout)["hits"]


@pytest.fixture(scope="module")
def server(ingested: Path) -> Iterator[str]:
    with kefu_server(ingested) as url:
        yield url


def test_search_api_over_http(server: str):
    r = httpx.get(
        f"{server}/api/search", params={"q": "How long does delivery take?", "k": 2}, timeout=30
    )
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert len(hits) == 2
    assert hits[0]["metadata"]["sheet"] == "English FAQ"
    assert "dense:minilm" in hits[0]["scores"] and "keyword" in hits[0]["scores"]


def test_search_api_rejects_empty_and_oversized_queries(server: str):
    assert httpx.get(f"{server}/api/search", params={"q": ""}).status_code == 422
    assert httpx.get(f"{server}/api/search", params={"q": "x", "k": 500}).status_code == 422
    assert httpx.get(f"{server}/api/search").status_code == 422


def test_search_page_and_openapi(server: str):
    page = httpx.get(server)
    assert page.status_code == 200 and "知識庫搜尋" in page.text and "Knowledge search" in page.text
    spec = httpx.get(f"{server}/openapi.json").json()
    assert "/api/search" in spec["paths"]
