"""Ingest jobs in their lanes: a small upload is served while a huge one embeds; a cancelled
job (queued or running) leaves the serving knowledge and the files as they were, and the
cancel is kept across a restart."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from knowledge import library as library_module
from knowledge.base import KnowledgeBase
from knowledge.embedding import HashingEmbedder
from knowledge.library import KnowledgeLibrary, LibraryError
from tests.knowledge.conftest import OpenLibrary

HOLD = "慢慢來"  # the embedder waits before each batch that holds this word


class HeldEmbedder(HashingEmbedder):
    """The hashing embedder, held at each batch of the big files until the test releases it."""

    def __init__(self) -> None:
        super().__init__("e5")
        self.holding = threading.Event()  # set while a batch waits
        self.release = threading.Event()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if any(HOLD in t for t in texts):
            self.holding.set()
            assert self.release.wait(30), "the test never released the embedder"
        return super().embed_passages(texts)


def faq_csv(rows: int, word: str) -> bytes:
    lines = ["問題,答案"] + [f"{word}第{i}題怎麼辦？,請照第{i}步做。{word}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def embedder() -> HeldEmbedder:
    return HeldEmbedder()


@pytest.fixture
def library(
    embedder: HeldEmbedder,
    engine: Engine,
    open_library: OpenLibrary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> KnowledgeLibrary:
    monkeypatch.setattr(library_module, "LARGE_JOB_BYTES", 4000)
    kb = KnowledgeBase.in_memory([embedder], tmp_path / "kb")
    return open_library(kb, engine, tmp_path / "data")


def upload(library: KnowledgeLibrary, name: str, data: bytes, replace: bool = False) -> str:
    library.save(name, io.BytesIO(data), replace=replace)
    return library.ingest([name]).id


def served(library: KnowledgeLibrary, source: str) -> int:
    record = library.kb.catalog.source(source)
    return record.items if record is not None else 0


def vectors(library: KnowledgeLibrary) -> int:
    return library.kb.vectors.count("e5")


def test_a_small_upload_is_served_while_a_huge_one_embeds_then_the_huge_one_is_cancelled(
    library: KnowledgeLibrary,
    embedder: HeldEmbedder,
    engine: Engine,
    open_library: OpenLibrary,
    tmp_path: Path,
) -> None:
    big = upload(library, "catalogue.csv", faq_csv(400, HOLD))
    assert library.job(big).lane == "large"  # type: ignore[union-attr]
    assert embedder.holding.wait(30), "the big job never started embedding"

    small = library.wait(upload(library, "hours.csv", faq_csv(3, "營業時間")), timeout=30)
    assert small.state == "done" and small.lane == "small"
    assert served(library, "hours.csv") == 3
    assert library.job(big).state == "running"  # type: ignore[union-attr]
    before = vectors(library)

    cancelling = library.cancel(big)
    assert cancelling.state == "running" and cancelling.cancelling
    embedder.release.set()
    ended = library.wait(big, timeout=30)
    assert ended.state == "cancelled" and not ended.cancelling and ended.error is None
    # nothing of the big file serves, no vector of it stays, and the file is gone like its
    # listing (a new file that never served)
    assert served(library, "catalogue.csv") == 0
    assert library.kb.catalog.source("catalogue.csv") is None
    assert library.file("catalogue.csv") is None
    assert vectors(library) == before
    assert [r.name for r in library.kb.catalog.sources()] == ["hours.csv"]

    library.close()
    restarted = open_library(library.kb, engine, tmp_path / "data")
    assert restarted.job(big).state == "cancelled"  # type: ignore[union-attr]
    with pytest.raises(LibraryError) as ended_already:
        restarted.cancel(big)
    assert ended_already.value.code == "job_ended"


def test_a_cancelled_replacement_keeps_serving_the_previous_version_and_its_file(
    library: KnowledgeLibrary, embedder: HeldEmbedder
) -> None:
    first = faq_csv(5, "退貨")
    assert library.wait(upload(library, "returns.csv", first), timeout=30).state == "done"
    items = set(library.kb.catalog.chunk_states("returns.csv"))
    count = vectors(library)

    job = upload(library, "returns.csv", faq_csv(400, HOLD), replace=True)
    assert embedder.holding.wait(30)
    library.cancel(job)
    embedder.release.set()
    assert library.wait(job, timeout=30).state == "cancelled"
    assert served(library, "returns.csv") == 5
    assert set(library.kb.catalog.chunk_states("returns.csv")) == items
    assert vectors(library) == count
    found = library.file("returns.csv")
    assert found is not None and found.read_bytes() == first  # the download is what serves
    assert not [f for f in library.managed() if f.replacing]


def test_a_queued_job_cancelled_never_starts(
    library: KnowledgeLibrary, embedder: HeldEmbedder
) -> None:
    running = upload(library, "a.csv", faq_csv(400, HOLD))
    assert embedder.holding.wait(30)
    queued = upload(library, "b.csv", faq_csv(400, "別的"))
    assert library.job(queued).state == "queued"  # type: ignore[union-attr]
    cancelled = library.cancel(queued)
    assert cancelled.state == "cancelled" and cancelled.started_at is None
    assert library.file("b.csv") is None
    library.cancel(running)
    embedder.release.set()
    assert library.wait(running, timeout=30).state == "cancelled"
    assert library.kb.catalog.sources() == []
    with pytest.raises(LibraryError) as unknown:
        library.cancel("nosuchjob")
    assert unknown.value.code == "job_not_found"
