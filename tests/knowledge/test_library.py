"""The knowledge library: a failed replacement keeps the served items and the file to download."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from knowledge.base import KnowledgeBase
from knowledge.ingestion import ingest_paths
from knowledge.library import INTERRUPTED, KnowledgeLibrary
from tests.ingest import hostile
from tests.knowledge.conftest import OpenLibrary

BROKEN = b"PK\x03\x04 not really a workbook"


def good_workbook(path: Path) -> Path:
    return hostile.write_workbook(path, [hostile.HEADER, hostile.FAQ_ROW])


@pytest.fixture
def library(
    hashing_kb: KnowledgeBase, engine: Engine, open_library: OpenLibrary, tmp_path: Path
) -> KnowledgeLibrary:
    return open_library(hashing_kb, engine, tmp_path / "data")


def downloaded(library: KnowledgeLibrary, name: str) -> bytes | None:
    found = library.file(name)
    return None if found is None else found.read_bytes()


def replace_and_wait(library: KnowledgeLibrary, name: str, data: bytes) -> None:
    saved = library.save(name, io.BytesIO(data), replace=True)
    job = library.wait(library.ingest([saved.name]).id, timeout=30)
    assert job.state == "done" and job.files[0].outcome == "failed"


def test_a_failed_replacement_of_an_uploaded_file_keeps_it(
    library: KnowledgeLibrary, tmp_path: Path
) -> None:
    original = good_workbook(tmp_path / "upload.xlsx").read_bytes()
    library.save("shop_faq.xlsx", io.BytesIO(original))
    library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    replace_and_wait(library, "shop_faq.xlsx", BROKEN)
    assert downloaded(library, "shop_faq.xlsx") == original
    assert library.kb.catalog.count() == 1


def test_a_failed_replacement_of_a_file_ingested_from_a_folder_keeps_it(
    library: KnowledgeLibrary, tmp_path: Path
) -> None:
    # the demo shop: its files are ingested from their own folder, not uploaded
    folder = tmp_path / "demo"
    folder.mkdir()
    original = good_workbook(folder / "shop_faq.xlsx").read_bytes()
    assert ingest_paths(library.kb, [folder]).ok
    replace_and_wait(library, "shop_faq.xlsx", BROKEN)
    assert downloaded(library, "shop_faq.xlsx") == original, "the file to download is gone"
    assert library.kb.catalog.count() == 1
    # and re-ingesting everything keeps serving it from its folder
    job = library.wait(library.ingest().id, timeout=30)
    assert job.state == "done" and library.kb.catalog.count() == 1


def test_a_replacement_whose_job_breaks_is_put_back(
    library: KnowledgeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = good_workbook(tmp_path / "upload.xlsx").read_bytes()
    library.save("shop_faq.xlsx", io.BytesIO(original))
    library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the vector store went away")

    monkeypatch.setattr(library.kb, "sync_source", broken)
    newer = hostile.write_workbook(tmp_path / "newer.xlsx", [hostile.HEADER, hostile.FAQ_ROW * 2])
    library.save("shop_faq.xlsx", io.BytesIO(newer.read_bytes()), replace=True)
    job = library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    assert job.state == "failed"
    assert downloaded(library, "shop_faq.xlsx") == original


def test_jobs_outlive_the_library(
    library: KnowledgeLibrary, engine: Engine, open_library: OpenLibrary, tmp_path: Path
) -> None:
    library.save("shop_faq.xlsx", io.BytesIO(good_workbook(tmp_path / "u.xlsx").read_bytes()))
    done = library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    library.close()
    again = open_library(library.kb, engine, tmp_path / "data")
    kept = again.job(done.id)
    assert kept is not None and kept.state == "done" and kept.error is None
    assert kept.finished_at == done.finished_at and kept.files == done.files
    assert [j.id for j in again.jobs()] == [done.id]


class Stuck:
    """sync_source that blocks until released, as a job the process dies in."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args: object, **kwargs: object) -> None:
        self.entered.set()
        self.release.wait(30)
        raise RuntimeError("the old process is gone")


def test_a_job_whose_worker_died_reads_as_failed_and_its_replacement_is_put_back(
    hashing_kb: KnowledgeBase,
    engine: Engine,
    open_library: OpenLibrary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = {"lease": timedelta(seconds=1), "poll_s": 0.1}
    library = open_library(hashing_kb, engine, tmp_path / "data", **short)
    original = good_workbook(tmp_path / "upload.xlsx").read_bytes()
    library.save("shop_faq.xlsx", io.BytesIO(original))
    library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    stuck = Stuck()
    monkeypatch.setattr(library.kb, "sync_source", stuck)
    newer = hostile.write_workbook(tmp_path / "newer.xlsx", [hostile.HEADER, hostile.FAQ_ROW * 2])
    library.save("shop_faq.xlsx", io.BytesIO(newer.read_bytes()), replace=True)
    library.save("new.xlsx", io.BytesIO(original))
    running = library.ingest(["shop_faq.xlsx", "new.xlsx"])
    assert stuck.entered.wait(30)
    library.close()  # the process dies: its lease is renewed no more
    monkeypatch.undo()
    try:
        restarted = open_library(library.kb, engine, tmp_path / "data", **short)
        restarted.start()
        job = restarted.wait(running.id, timeout=30)
        assert job.state == "failed" and job.error == INTERRUPTED and job.finished_at is not None
        assert downloaded(restarted, "shop_faq.xlsx") == original  # the version serving
        assert not [f for f in restarted.managed() if f.replacing]
        assert downloaded(restarted, "new.xlsx") is None  # never served: not left unlisted
        report = {f.source: f for f in job.files}
        assert "the previous version of the file was put back" in report["shop_faq.xlsx"].problems
        assert any("upload it again" in p for p in report["new.xlsx"].problems)
        assert restarted.kb.catalog.count() == 1
        # the next job runs as usual
        assert restarted.wait(restarted.ingest().id, timeout=30).state == "done"
    finally:
        stuck.release.set()
    # the stopped worker's thread, let go, writes nothing over what the other one decided
    time.sleep(0.5)
    assert restarted.job(running.id) == job
    assert downloaded(restarted, "shop_faq.xlsx") == original
