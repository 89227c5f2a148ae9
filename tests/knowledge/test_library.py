"""The knowledge library: a failed replacement keeps the served items and the file to download."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.ingestion import IngestOptions, ingest_paths
from knowledge.library import KnowledgeLibrary
from tests.ingest import hostile

BROKEN = b"PK\x03\x04 not really a workbook"


def good_workbook(path: Path) -> Path:
    return hostile.write_workbook(path, [hostile.HEADER, hostile.FAQ_ROW])


@pytest.fixture
def library(hashing_kb: KnowledgeBase, tmp_path: Path) -> KnowledgeLibrary:
    return KnowledgeLibrary(hashing_kb, tmp_path / "data", IngestOptions())


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
    path = library.path("shop_faq.xlsx")
    assert path is not None and path.read_bytes() == original
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
    path = library.path("shop_faq.xlsx")
    assert path is not None, "the file to download is gone"
    assert path.read_bytes() == original
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
    path = library.path("shop_faq.xlsx")
    assert path is not None and path.read_bytes() == original


def test_jobs_outlive_the_library(library: KnowledgeLibrary, tmp_path: Path) -> None:
    library.save("shop_faq.xlsx", io.BytesIO(good_workbook(tmp_path / "u.xlsx").read_bytes()))
    done = library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    again = KnowledgeLibrary(library.kb, tmp_path / "data", IngestOptions())
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


def test_a_job_running_at_a_crash_reads_as_failed_and_its_replacement_is_put_back(
    library: KnowledgeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = good_workbook(tmp_path / "upload.xlsx").read_bytes()
    library.save("shop_faq.xlsx", io.BytesIO(original))
    library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    stuck = Stuck()
    monkeypatch.setattr(library.kb, "sync_source", stuck)
    newer = hostile.write_workbook(tmp_path / "newer.xlsx", [hostile.HEADER, hostile.FAQ_ROW * 2])
    library.save("shop_faq.xlsx", io.BytesIO(newer.read_bytes()), replace=True)
    library.save("new.xlsx", io.BytesIO(original))
    running = library.ingest(["shop_faq.xlsx", "new.xlsx"])
    queued = library.ingest(["new.xlsx"])
    assert stuck.entered.wait(30)
    monkeypatch.undo()
    try:
        restarted = KnowledgeLibrary(library.kb, tmp_path / "data", IngestOptions())
        for job_id in (running.id, queued.id):
            job = restarted.job(job_id)
            assert job is not None and job.state == "failed", job
            assert job.error == "interrupted by a restart" and job.finished_at is not None
        path = restarted.path("shop_faq.xlsx")
        assert path is not None and path.read_bytes() == original  # the version serving
        assert not (restarted.folder / ".previous" / "shop_faq.xlsx").exists()
        assert restarted.path("new.xlsx") is None  # never served: not left unlisted
        report = {f.source: f for f in restarted.job(running.id).files}  # type: ignore[union-attr]
        assert "the previous version of the file was put back" in report["shop_faq.xlsx"].problems
        assert any("upload it again" in p for p in report["new.xlsx"].problems)
        assert restarted.kb.catalog.count() == 1
        # the next job runs as usual
        assert restarted.wait(restarted.ingest().id, timeout=30).state == "done"
    finally:
        stuck.release.set()


def test_an_unreadable_jobs_file_starts_an_empty_list(
    hashing_kb: KnowledgeBase, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ingest_jobs.json").write_text("[{not json", encoding="utf-8")
    library = KnowledgeLibrary(hashing_kb, data, IngestOptions())
    assert library.jobs() == []
    library.save("shop_faq.xlsx", io.BytesIO(good_workbook(tmp_path / "u.xlsx").read_bytes()))
    job = library.wait(library.ingest(["shop_faq.xlsx"]).id, timeout=30)
    again = KnowledgeLibrary(hashing_kb, data, IngestOptions())
    assert [j.id for j in again.jobs()] == [job.id]
