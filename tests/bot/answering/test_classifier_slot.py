"""The answer classifier of a worker whose knowledge moved through another worker: fitted again
in the background for the new revision, turns meanwhile going on without it."""

from __future__ import annotations

from pathlib import Path

from bot.answering.classifier import ClassifierSlot, refit_if_stale
from knowledge.base import KnowledgeBase
from knowledge.catalog import Catalog
from knowledge.embedding import HashingEmbedder
from knowledge.vector_store import MemoryVectorStore
from tests.bot.answering.test_scale import ingest_rows

# two phrasings of each answer: enough to fit a classifier on
ROWS = [
    ("退貨要怎麼申請", "到我的訂單申請退貨"),
    ("退貨怎麼辦理", "到我的訂單申請退貨"),
    ("退款多久會到帳", "五個工作天內退款"),
    ("錢什麼時候退回來", "五個工作天內退款"),
    ("運費怎麼算", "滿990免運"),
    ("運費多少", "滿990免運"),
]


def worker(catalog: Catalog, vectors: MemoryVectorStore) -> KnowledgeBase:
    from knowledge.keyword_index import KeywordIndex

    return KnowledgeBase(catalog, vectors, [HashingEmbedder("e5")], KeywordIndex())


def test_a_worker_refits_its_classifier_when_another_moved_the_knowledge(tmp_path: Path):
    catalog = Catalog.sqlite(tmp_path / "catalog.sqlite3")
    vectors = MemoryVectorStore()
    a, b = worker(catalog, vectors), worker(catalog, vectors)
    ingest_rows(a, ROWS)
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    refit_if_stale(b, b_dir)
    slot = ClassifierSlot(b_dir, refit=lambda: refit_if_stale(b, b_dir))
    first = catalog.revision()
    assert slot.current(first) is not None

    ingest_rows(
        a, [*ROWS, ("可以貨到付款嗎", "可以，超商取貨付款"), ("能取貨付款嗎", "可以，超商取貨付款")]
    )  # through worker a
    moved = catalog.revision()
    assert moved != first
    assert slot.current(moved) is None  # not yet: it is being fitted, the turn does not wait
    assert slot.wait_idle(30)
    fitted = slot.current(moved)
    assert fitted is not None and fitted.revision == moved
    assert len(fitted.keys) == len({answer for _, answer in ROWS}) + 1
    catalog.close()


def test_a_slot_without_refit_only_reads_its_file(tmp_path: Path):
    catalog = Catalog.sqlite(tmp_path / "catalog.sqlite3")
    kb = worker(catalog, MemoryVectorStore())
    ingest_rows(kb, ROWS)
    slot = ClassifierSlot(tmp_path)
    assert slot.current(catalog.revision()) is None
    assert slot.wait_idle(1)
    assert slot.current(catalog.revision()) is None
    refit_if_stale(kb, tmp_path)
    assert slot.current(catalog.revision()) is not None
    catalog.close()
