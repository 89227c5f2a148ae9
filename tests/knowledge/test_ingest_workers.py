"""Two workers over one SQL database (SQLite and PostgreSQL), sharing one knowledge base: a
queued job runs once, on one of them; either sees the other's progress and cancels its job; a
killed worker's job is taken as interrupted by the other, its files set straight; an upload
through one is downloaded from the other; two jobs reading one file never run at once."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from bot.conversation.sql import SqlConversationStore
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.job_signal import RedisJobSignal
from knowledge.library import INTERRUPTED, PUT_BACK, KnowledgeLibrary
from tests.conftest import REDIS_URL
from tests.knowledge.conftest import OpenLibrary

HOLD = "慢慢來"  # the embedder waits before each batch that holds this word
FAST = {"lease": timedelta(seconds=1), "poll_s": 0.1}


class HeldEmbedder(HashingEmbedder):
    """The hashing embedder, held at each batch holding HOLD until the test releases it."""

    def __init__(self) -> None:
        super().__init__("e5")
        self.holding = threading.Event()
        self.release = threading.Event()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if any(HOLD in t for t in texts):
            self.holding.set()
            assert self.release.wait(30), "the test never released the embedder"
        return super().embed_passages(texts)


def faq_csv(rows: int, word: str) -> bytes:
    lines = ["問題,答案"] + [f"{word}第{i}題怎麼辦？,請照第{i}步做。{word}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(params=["sqlite", "postgres"])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two workers' engines on one database (each its own store, as two processes have)."""
    if request.param == "sqlite":
        stores = [SqlConversationStore.sqlite(tmp_path / "db") for _ in range(2)]
    else:
        url = request.getfixturevalue("postgres_url")
        stores = [SqlConversationStore(url) for _ in range(2)]
    yield stores[0].engine, stores[1].engine
    for store in stores:
        store.close()


@pytest.fixture
def embedder() -> HeldEmbedder:
    return HeldEmbedder()


@pytest.fixture
def kb(embedder: HeldEmbedder, tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase.in_memory([embedder], tmp_path / "kb")


@pytest.fixture
def workers(
    engines: tuple[Engine, Engine], kb: KnowledgeBase, open_library: OpenLibrary, tmp_path: Path
) -> tuple[KnowledgeLibrary, KnowledgeLibrary]:
    """Worker a and worker b, each with an empty data dir of its own; neither started."""
    return (
        open_library(kb, engines[0], tmp_path / "a", **FAST),
        open_library(kb, engines[1], tmp_path / "b", **FAST),
    )


def served(kb: KnowledgeBase, source: str) -> int:
    record = kb.catalog.source(source)
    return record.items if record is not None else 0


def downloaded(library: KnowledgeLibrary, name: str) -> bytes | None:
    found = library.file(name)
    return None if found is None else found.read_bytes()


def test_each_queued_job_runs_once_on_one_of_the_workers(
    workers: tuple[KnowledgeLibrary, KnowledgeLibrary],
    kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = workers
    synced: Counter[str] = Counter()
    real_sync = kb.sync_source

    def counted(source: str, *args: Any, **kwargs: Any) -> Any:
        synced[source] += 1
        return real_sync(source, *args, **kwargs)

    monkeypatch.setattr(kb, "sync_source", counted)
    a.start()
    b.start()
    names = [f"faq{i}.csv" for i in range(6)]
    jobs = []
    for i, name in enumerate(names):
        uploader = (a, b)[i % 2]
        uploader.save(name, io.BytesIO(faq_csv(2, f"第{i}份")))
        jobs.append(uploader.ingest([name]).id)
    for job_id in jobs:
        job = b.wait(job_id, timeout=60)
        assert job.state == "done" and job.files_done == 1, job
    assert synced == Counter(dict.fromkeys(names, 1))
    assert all(served(kb, name) == 2 for name in names)


def test_progress_is_seen_and_a_cancel_is_obeyed_across_workers(
    workers: tuple[KnowledgeLibrary, KnowledgeLibrary], kb: KnowledgeBase, embedder: HeldEmbedder
) -> None:
    a, b = workers  # only a runs jobs here; b reads and cancels them
    a.save("hours.csv", io.BytesIO(faq_csv(3, "營業時間")))
    a.save("zcatalogue.csv", io.BytesIO(faq_csv(50, HOLD)))
    job_id = a.ingest(["hours.csv", "zcatalogue.csv"]).id
    assert embedder.holding.wait(30), "the job never started embedding its second file"
    seen = b.job(job_id)
    assert seen is not None and seen.state == "running" and seen.files_total == 2
    assert seen.files_done == 1 and seen.current == "hours.csv"
    assert [(f.source, f.outcome, f.added) for f in seen.files] == [("hours.csv", "added", 3)]
    assert [j.id for j in b.jobs()] == [job_id]

    cancelling = b.cancel(job_id)
    assert cancelling.state == "running" and cancelling.cancelling
    embedder.release.set()
    ended = b.wait(job_id, timeout=30)
    assert ended.state == "cancelled" and not ended.cancelling and ended.error is None
    assert served(kb, "hours.csv") == 3  # finished before the cancel: it serves
    assert kb.catalog.source("zcatalogue.csv") is None  # never served: gone, file and all
    assert downloaded(b, "zcatalogue.csv") is None and downloaded(a, "zcatalogue.csv") is None


def test_a_killed_workers_job_is_taken_as_interrupted_by_the_other(
    workers: tuple[KnowledgeLibrary, KnowledgeLibrary], kb: KnowledgeBase, embedder: HeldEmbedder
) -> None:
    a, b = workers
    first = faq_csv(4, "退貨")
    a.save("returns.csv", io.BytesIO(first))
    assert a.wait(a.ingest(["returns.csv"]).id, timeout=30).state == "done"
    a.save("returns.csv", io.BytesIO(faq_csv(50, HOLD)), replace=True)
    a.save("new.csv", io.BytesIO(faq_csv(2, "新品")))
    job_id = a.ingest(["new.csv", "returns.csv"]).id
    assert embedder.holding.wait(30)
    a.close()  # killed: its lease is renewed no more
    b.start()
    try:
        job = b.wait(job_id, timeout=30)
        assert job.state == "failed" and job.error == INTERRUPTED, job
        report = {f.source: f for f in job.files}
        assert PUT_BACK in report["returns.csv"].problems
        assert downloaded(b, "returns.csv") == first  # the version whose items serve
        assert not [f for f in b.managed() if f.replacing]
        assert served(kb, "returns.csv") == 4
        # new.csv finished before the kill: it serves, and its file stays
        assert served(kb, "new.csv") == 2 and downloaded(b, "new.csv") == faq_csv(2, "新品")
    finally:
        embedder.release.set()
    time.sleep(0.5)  # the killed worker's thread, let go, finds its job taken and writes nothing
    assert b.job(job_id) == job
    assert downloaded(b, "returns.csv") == first


def test_an_upload_through_one_worker_is_downloaded_from_the_other(
    workers: tuple[KnowledgeLibrary, KnowledgeLibrary], kb: KnowledgeBase, tmp_path: Path
) -> None:
    a, b = workers
    data = faq_csv(2, "下載")
    a.save("download.csv", io.BytesIO(data))
    assert b.is_managed("download.csv") and downloaded(b, "download.csv") == data
    b.start()  # b runs it, from the database: its own data dir is empty
    assert b.wait(b.ingest(["download.csv"]).id, timeout=30).state == "done"
    assert served(kb, "download.csv") == 2
    assert kb.catalog.source("download.csv").origin == "uploaded"  # type: ignore[union-attr]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_two_jobs_reading_one_file_never_run_at_once_across_workers(
    workers: tuple[KnowledgeLibrary, KnowledgeLibrary], kb: KnowledgeBase, embedder: HeldEmbedder
) -> None:
    a, b = workers
    a.save("big.csv", io.BytesIO(faq_csv(50, HOLD)))
    first = a.ingest(["big.csv"]).id
    assert embedder.holding.wait(30)
    b.start()
    second = b.ingest(["big.csv"]).id
    time.sleep(0.6)  # b looked several times: its lanes are free, but the file is being read
    assert b.job(second).state == "queued"  # type: ignore[union-attr]
    embedder.release.set()
    assert a.wait(first, timeout=30).state == "done"
    again = b.wait(second, timeout=30)
    assert again.state == "done" and [f.outcome for f in again.files] == ["unchanged"]


def test_with_redis_a_job_queued_on_one_worker_wakes_the_other_at_once(
    engines: tuple[Engine, Engine],
    kb: KnowledgeBase,
    open_library: OpenLibrary,
    tmp_path: Path,
    redis_prefix: str,
) -> None:
    # b looks at the queue every 30 s: only the signal can start the job within seconds
    slow = {"lease": timedelta(seconds=30), "poll_s": 30.0}
    a = open_library(
        kb, engines[0], tmp_path / "a", signal=RedisJobSignal(REDIS_URL, redis_prefix), **slow
    )
    b = open_library(
        kb, engines[1], tmp_path / "b", signal=RedisJobSignal(REDIS_URL, redis_prefix), **slow
    )
    b.start()
    time.sleep(1.0)  # b's first look found nothing; it waits, subscribed
    a.close()  # a queues the job but runs nothing
    a.save("woken.csv", io.BytesIO(faq_csv(2, "叫醒")))
    started = time.monotonic()
    job = b.wait(a.ingest(["woken.csv"]).id, timeout=10)
    assert job.state == "done" and time.monotonic() - started < 10
    assert served(kb, "woken.csv") == 2
