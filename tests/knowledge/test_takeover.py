"""An earlier kefu's data dir (ingest_jobs.json and the sources/ folder) taken over on the
first start: the files move into the database, the jobs are listed as they were, those it left
running read as interrupted, and their files are set straight."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy.engine import Engine

from knowledge.base import KnowledgeBase
from knowledge.ingestion import ingest_paths
from knowledge.library import INTERRUPTED, PUT_BACK, REMOVED
from tests.knowledge.conftest import OpenLibrary


def faq_csv(rows: int, word: str) -> bytes:
    lines = ["問題,答案"] + [f"{word}第{i}題怎麼辦？,請照第{i}步做。{word}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def old_job(job_id: str, state: str, sources: list[str], **more: object) -> dict[str, object]:
    """A job as the earlier kefu wrote it into ingest_jobs.json."""
    return {
        "id": job_id,
        "label": ", ".join(sources),
        "state": state,
        "lane": "small",
        "bytes_total": 10,
        "cancelling": False,
        "started_at": "2026-11-30T08:00:00+00:00",
        "finished_at": "2026-11-30T08:00:05+00:00" if state == "done" else None,
        "files_total": len(sources),
        "files_done": len(sources) if state == "done" else 0,
        "current": None,
        "embedded": 0,
        "error": None,
        "files": [],
        "sources": sources,
        **more,
    }


def test_an_old_data_dir_is_taken_over_on_the_first_start(
    hashing_kb: KnowledgeBase, engine: Engine, open_library: OpenLibrary, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    sources = data / "sources"
    (sources / ".previous").mkdir(parents=True)
    serving, unserved, newer = faq_csv(3, "退貨"), faq_csv(2, "新品"), faq_csv(5, "換貨")
    # returns.csv serves; a replacement of it was being ingested when that kefu was killed
    (sources / "returns.csv").write_bytes(serving)
    assert ingest_paths(hashing_kb, [sources]).ok
    (sources / ".previous" / "returns.csv").write_bytes(serving)
    (sources / "returns.csv").write_bytes(newer)
    (sources / "new.csv").write_bytes(unserved)  # uploaded, never served
    # hours.csv: a replacement saved just before the kill, with no job yet
    hours = faq_csv(2, "營業時間")
    (sources / "hours.csv").write_bytes(hours)
    assert ingest_paths(hashing_kb, [sources / "hours.csv"]).ok
    (sources / ".previous" / "hours.csv").write_bytes(hours)
    (sources / "hours.csv").write_bytes(faq_csv(9, "營業時間"))
    (sources / ".1234.part").write_bytes(b"half an upload")
    jobs = [
        old_job("olddone", "done", ["returns.csv"]),
        old_job("oldrunning", "running", ["returns.csv", "new.csv"]),
    ]
    (data / "ingest_jobs.json").write_text(json.dumps(jobs), encoding="utf-8")

    library = open_library(hashing_kb, engine, data)
    assert not sources.exists() and not (data / "ingest_jobs.json").exists()
    assert sorted(f.name for f in library.managed()) == ["hours.csv", "returns.csv"]
    assert not [f for f in library.managed() if f.replacing]
    assert library.file("returns.csv").read_bytes() == serving  # type: ignore[union-attr]
    assert library.file("hours.csv").read_bytes() == hours  # type: ignore[union-attr]
    assert library.file("new.csv") is None
    listed = library.jobs()
    assert [j.id for j in listed] == ["oldrunning", "olddone"]
    interrupted = listed[0]
    assert interrupted.state == "failed" and interrupted.error == INTERRUPTED
    report = {f.source: f.problems for f in interrupted.files}
    assert report == {"returns.csv": [PUT_BACK], "new.csv": [REMOVED]}
    assert listed[1].state == "done" and listed[1].finished_at is not None

    # a second start finds nothing left to take, and the files serve as before
    library.close()
    again = open_library(hashing_kb, engine, data)
    assert [j.id for j in again.jobs()] == ["oldrunning", "olddone"]
    job = again.wait(again.ingest().id, timeout=30)
    assert job.state == "done", job
    outcomes = {f.source: f.outcome for f in job.files}
    assert outcomes == {"hours.csv": "unchanged", "returns.csv": "unchanged"}
    assert [j.id for j in again.jobs()][1:] == ["oldrunning", "olddone"]


def test_an_unreadable_jobs_file_starts_an_empty_list(
    hashing_kb: KnowledgeBase, engine: Engine, open_library: OpenLibrary, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "sources").mkdir(parents=True)
    (data / "sources" / "faq.csv").write_bytes(faq_csv(2, "運費"))
    (data / "ingest_jobs.json").write_text("[{not json", encoding="utf-8")
    library = open_library(hashing_kb, engine, data)
    assert library.jobs() == []
    assert [f.name for f in library.managed()] == ["faq.csv"]  # the files are taken all the same
    job = library.wait(library.ingest(["faq.csv"]).id, timeout=30)
    assert job.state == "done" and [j.id for j in library.jobs()] == [job.id]
    library.save("more.csv", io.BytesIO(faq_csv(1, "更多")))
    assert library.is_managed("more.csv")
