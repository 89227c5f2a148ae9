"""The catalog on SQLite (the embedded file) and on PostgreSQL (the shared database, migrated):
the same behaviour, a revision no concurrent writer loses, workers sharing one catalog, and a
data directory of the former catalog format still serving after the upgrade."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from bot.conversation.sql import SqlConversationStore
from ingest.model import Chunk
from knowledge.base import KnowledgeBase
from knowledge.catalog import REVISION_TTL_S, SQLITE_FILE, Catalog, ChunkRow, open_catalog
from knowledge.embedding import HashingEmbedder
from knowledge.keyword_index import KeywordIndex
from knowledge.retriever import HybridRetriever
from knowledge.text import TOKENIZER_VERSION, tokenize
from knowledge.vector_store import MemoryVectorStore
from tests.bot.conversation.conftest import postgres_admin, postgres_url  # noqa: F401

NOW = "2026-12-03T10:00:00+00:00"


def row(n: int, text: str, language: str = "zh") -> ChunkRow:
    return (f"faq.xlsx#{n}", f"row={n}", f"h{n}", text, language, {"row": n}, tokenize(text), NOW)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:  # noqa: F811
    """A fresh PostgreSQL database migrated to the head (the tables of migration 0013)."""
    store = SqlConversationStore(postgres_url)
    try:
        yield store.engine
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        opened = Catalog.sqlite(tmp_path / SQLITE_FILE)
    else:
        opened = Catalog(request.getfixturevalue("pg_engine"))
    yield opened
    if request.param == "sqlite":
        opened.close()


def test_a_source_is_replaced_read_and_dropped(catalog: Catalog) -> None:
    assert catalog.revision() == 0 and catalog.count() == 0 and catalog.sources() == []
    catalog.replace_source(
        "faq.xlsx", "upload", [], [row(2, "退貨 申請"), row(3, "運費 多少")], NOW
    )
    assert catalog.revision() == 1 and catalog.count() == 2
    got = catalog.get(["faq.xlsx#3", "missing"])
    assert list(got) == ["faq.xlsx#3"]
    assert got["faq.xlsx#3"].text == "運費 多少" and got["faq.xlsx#3"].metadata == {"row": 3}
    assert catalog.chunk_states("faq.xlsx")["faq.xlsx#2"] == ("row=2", "h2", NOW)
    assert catalog.ids_with_hashes(["h2", "h9"]) == {"h2": ["faq.xlsx#2"]}
    assert catalog.languages() == {"faq.xlsx#2": "zh", "faq.xlsx#3": "zh"}
    ids, tokens = catalog.all_tokens()
    assert ids == ["faq.xlsx#2", "faq.xlsx#3"] and tokens[1] == list(tokenize("運費 多少"))
    record = catalog.source("faq.xlsx")
    assert record is not None and (record.status, record.items, record.origin) == (
        "ok",
        2,
        "upload",
    )

    # one removed, one replaced in place, one added: one transaction, one revision
    catalog.replace_source(
        "faq.xlsx", "upload", ["faq.xlsx#2"], [row(3, "運費 免運"), row(4, "統編")], NOW, "fp"
    )
    assert catalog.revision() == 2 and catalog.count() == 2
    assert catalog.get(["faq.xlsx#3"])["faq.xlsx#3"].text == "運費 免運"
    assert catalog.source("faq.xlsx").fingerprint == "fp"  # type: ignore[union-attr]

    catalog.mark_failed("faq.xlsx", "elsewhere", "bad sheet", NOW)
    failed = catalog.source("faq.xlsx")
    assert failed is not None and (failed.status, failed.items, failed.origin) == (
        "failed",
        2,
        "upload",  # the origin of the chunks still serving
    )
    assert failed.last_error == "bad sheet" and failed.fingerprint == ""
    assert catalog.revision() == 2 and catalog.count() == 2  # what served keeps serving

    assert sorted(catalog.drop_source("faq.xlsx")) == ["faq.xlsx#3", "faq.xlsx#4"]
    assert catalog.count() == 0 and catalog.source("faq.xlsx") is None
    assert catalog.revision() == 3


def test_meta_retokenize_and_identity(catalog: Catalog) -> None:
    assert catalog.meta("tokenizer") is None
    catalog.set_meta("tokenizer", "1")
    catalog.set_meta("tokenizer", "2")
    assert catalog.meta("tokenizer") == "2"
    catalog.replace_source("faq.xlsx", "", [], [row(2, "退貨 申請")], NOW)
    assert catalog.retokenize(lambda text: ["x", text[:2]]) == 1
    assert catalog.all_tokens() == (["faq.xlsx#2"], [["x", "退貨"]])
    assert catalog.revision() == 2
    assert catalog.identity() == catalog.identity() != ""


def test_another_workers_change_is_seen_within_the_revision_ttl(pg_engine: Engine) -> None:
    mine, other = Catalog(pg_engine), Catalog(pg_engine)
    assert mine.revision() == 0 and mine.get(["faq.xlsx#2"]) == {}
    other.replace_source("faq.xlsx", "", [], [row(2, "退貨 申請")], NOW)
    time.sleep(REVISION_TTL_S)
    assert mine.revision() == 1 and mine.get(["faq.xlsx#2"])["faq.xlsx#2"].text == "退貨 申請"
    other.replace_source("faq.xlsx", "", [], [row(2, "退貨 七天內")], NOW)
    time.sleep(REVISION_TTL_S)
    assert mine.get(["faq.xlsx#2"])["faq.xlsx#2"].text == "退貨 七天內"  # not the one kept
    # its own change, at once
    mine.drop_source("faq.xlsx")
    assert mine.revision() == 3 and mine.get(["faq.xlsx#2"]) == {}


def test_a_thousand_ids_are_read_in_one_call(catalog: Catalog) -> None:
    many = [row(n, f"第 {n} 題") for n in range(1200)]
    catalog.replace_source("faq.xlsx", "", [], many, NOW)
    assert len(catalog.get([r[0] for r in many])) == 1200
    assert len(catalog.ids_with_hashes(r[2] for r in many)) == 1200


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_writers_lose_no_revision(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Workers (each on an engine of its own, so connections of its own) change the catalog
    at once: the revision counts every change."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_engine").url

        def opened() -> Catalog:
            return Catalog(create_engine(url, isolation_level="READ COMMITTED"))
    else:

        def opened() -> Catalog:
            return Catalog.sqlite(tmp_path / SQLITE_FILE)

    writers, changes = 4, 15
    catalogs = [opened() for _ in range(writers)]
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for k in range(changes):
                catalogs[n].replace_source(f"s{n}", "", [], [row(n * 100 + k, "運費")], NOW)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert catalogs[0].revision() == writers * changes
    assert catalogs[0].count() == writers * changes
    for catalog in catalogs:
        catalog.close()


def worker(engine: Engine, data_dir: Path, vectors: MemoryVectorStore) -> KnowledgeBase:
    """A worker's knowledge base: the shared catalog and vectors, its own keyword index."""
    return KnowledgeBase(
        open_catalog(data_dir, engine), vectors, [HashingEmbedder()], KeywordIndex(data_dir / "kw")
    )


def test_an_ingest_through_one_worker_is_served_by_another(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    stores = [SqlConversationStore(postgres_url), SqlConversationStore(postgres_url)]
    vectors = MemoryVectorStore()  # the Chroma server both would share
    try:
        a = worker(stores[0].engine, tmp_path / "a", vectors)
        b = worker(stores[1].engine, tmp_path / "b", vectors)
        a.sync_source("faq.xlsx", [faq(2, "問題: 運費多少？\n答案: 滿 990 元免運。")])
        retriever = HybridRetriever(b)  # b never read the revision yet
        assert retriever.search("運費", 1)[0].text.endswith("滿 990 元免運。")
        before = b.keyword.revision

        a.sync_source("faq.xlsx", [faq(2, "問題: 運費多少？\n答案: 滿 990 元免運。"), RETURNS])
        time.sleep(REVISION_TTL_S)  # how stale b's revision may be
        # b's next search sees the catalog's new revision and rebuilds its keyword index
        hits = b.keyword_index().search(tokenize("退貨 申請"), 3)
        assert [doc for doc, _ in hits][:1] == [RETURNS.id]
        assert b.keyword.revision == a.catalog.revision() > before
        assert retriever.search("退貨要怎麼申請", 1)[0].id == RETURNS.id

        a.drop_source("faq.xlsx")
        time.sleep(REVISION_TTL_S)
        assert retriever.search("退貨要怎麼申請", 1) == []
    finally:
        for store in stores:
            store.close()


def faq(n: int, text: str) -> Chunk:
    return Chunk.build("faq.xlsx", f"sheet=FAQ;row={n}", text, {"language": "zh"})


RETURNS = faq(3, "問題: 退貨要怎麼申請？\n答案: 到貨七天內在會員中心申請。")

# The catalog file as kefu kept it before the catalog moved to SQLAlchemy.
FORMER_SCHEMA = """
CREATE TABLE chunks (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, locator TEXT NOT NULL, hash TEXT NOT NULL,
    text TEXT NOT NULL, language TEXT NOT NULL, metadata TEXT NOT NULL, tokens TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX chunks_source ON chunks(source);
CREATE INDEX chunks_hash ON chunks(hash);
CREATE TABLE sources (
    name TEXT PRIMARY KEY, origin TEXT NOT NULL, status TEXT NOT NULL, items INTEGER NOT NULL,
    last_ingest TEXT NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT ''
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def former_data_dir(data_dir: Path, vectors: MemoryVectorStore) -> None:
    """A data directory whose catalog.sqlite3 has the former schema, holding RETURNS (with its
    vectors in `vectors`), at revision 7."""
    data_dir.mkdir(parents=True)
    db = sqlite3.connect(data_dir / SQLITE_FILE)
    db.executescript(FORMER_SCHEMA)
    tokens = "\x1f".join(tokenize(RETURNS.text))
    db.execute(
        "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
        (RETURNS.id, "faq.xlsx", RETURNS.locator, RETURNS.hash, RETURNS.text, "zh",
         '{"language": "zh"}', tokens, NOW),
    )  # fmt: skip
    db.execute("INSERT INTO sources VALUES ('faq.xlsx', 'upload', 'ok', 1, ?, '', 'fp')", (NOW,))
    db.execute("INSERT INTO meta VALUES ('revision', '7')")
    db.execute("INSERT INTO meta VALUES ('tokenizer', ?)", (TOKENIZER_VERSION,))
    db.commit()
    db.close()
    # the vectors were made by the same embedder as the worker's
    scratch = Catalog.sqlite(data_dir.with_name(data_dir.name + "-scratch.sqlite3"))
    KnowledgeBase(scratch, vectors, [HashingEmbedder()], KeywordIndex()).sync_source(
        "faq.xlsx", [RETURNS]
    )


def serves_returns(kb: KnowledgeBase) -> None:
    assert kb.catalog.count() == 1 and kb.catalog.revision() == 7
    record = kb.catalog.source("faq.xlsx")
    assert record is not None and (record.origin, record.items, record.fingerprint) == (
        "upload",
        1,
        "fp",
    )
    assert kb.catalog.get([RETURNS.id])[RETURNS.id].metadata == {"language": "zh"}
    assert HybridRetriever(kb).search("退貨要怎麼申請", 1)[0].id == RETURNS.id


def test_a_data_dir_of_the_former_format_serves_after_the_upgrade(tmp_path: Path) -> None:
    vectors = MemoryVectorStore()
    former_data_dir(tmp_path / "data", vectors)
    kb = worker_embedded(tmp_path / "data", vectors)
    serves_returns(kb)
    kb.catalog.close()
    # the file now has the catalog's tables only, and opening it again copies nothing twice
    names = set(inspect(open_catalog(tmp_path / "data").engine).get_table_names())
    assert names == {"knowledge_chunks", "knowledge_sources", "knowledge_meta"}
    serves_returns(worker_embedded(tmp_path / "data", vectors))


def worker_embedded(data_dir: Path, vectors: MemoryVectorStore) -> KnowledgeBase:
    return KnowledgeBase(
        open_catalog(data_dir), vectors, [HashingEmbedder()], KeywordIndex(data_dir / "kw")
    )


def test_a_data_dir_catalog_moves_into_the_shared_database_once(
    pg_engine: Engine, tmp_path: Path
) -> None:
    vectors = MemoryVectorStore()
    former_data_dir(tmp_path / "one", vectors)
    serves_returns(worker(pg_engine, tmp_path / "one", vectors))
    # a second worker with a stale copy of a data dir finds the shared catalog taken
    former_data_dir(tmp_path / "two", MemoryVectorStore())
    other = worker(pg_engine, tmp_path / "two", vectors)
    other.drop_source("faq.xlsx")
    assert worker(pg_engine, tmp_path / "two", vectors).catalog.count() == 0
