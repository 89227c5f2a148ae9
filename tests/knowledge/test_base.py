"""Syncing sources into the knowledge base: only new text is embedded, failures lose nothing."""

from __future__ import annotations

import threading

from sqlalchemy import update

from ingest.model import Chunk
from knowledge.base import KnowledgeBase
from knowledge.catalog import chunks
from knowledge.retriever import HybridRetriever


def rows(*pairs: tuple[int, str], source: str = "faq.xlsx") -> list[Chunk]:
    return [
        Chunk.build(source, f"sheet=FAQ;row={n}", text, {"language": "zh", "row": n})
        for n, text in pairs
    ]


BASE = (
    (2, "問題: 退貨要怎麼申請？\n答案: 到貨七天內在會員中心申請。"),
    (3, "問題: 運費多少？\n答案: 滿 990 元免運，未滿收 80 元。"),
    (4, "問題: 可以開統編發票嗎？\n答案: 結帳時填寫統一編號即可。"),
)


def embedded(kb: KnowledgeBase) -> int:
    return kb.embedders[0].calls  # type: ignore[attr-defined]


def test_second_sync_of_same_chunks_embeds_nothing(hashing_kb: KnowledgeBase):
    first = hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    assert len(first.added) == 3 and first.embedded == 3
    again = hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    assert again.unchanged == 3 and not again.touched and again.embedded == 0
    assert embedded(hashing_kb) == 3


def test_changing_one_row_reembeds_exactly_that_row(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    changed = list(BASE)
    changed[1] = (3, "問題: 運費多少？\n答案: 滿 1200 元免運。")
    diff = hashing_kb.sync_source("faq.xlsx", rows(*changed))
    assert diff.changed == ["sheet=FAQ;row=3"] and diff.unchanged == 2 and diff.embedded == 1
    assert embedded(hashing_kb) == 4
    retriever = HybridRetriever(hashing_kb)
    assert "1200" in retriever.search("運費", 1)[0].text
    assert hashing_kb.vectors.count("hashing") == 3  # no question metadata: one vector a row


def test_deleted_row_is_removed_everywhere(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    diff = hashing_kb.sync_source("faq.xlsx", rows(*BASE[:2]))
    assert diff.removed == ["sheet=FAQ;row=4"]
    assert hashing_kb.catalog.count() == 2
    assert hashing_kb.vectors.count("hashing") == 2
    hits = HybridRetriever(hashing_kb).search("統一編號", 5)
    assert all("統一編號" not in h.text for h in hits)


def test_moved_row_reuses_its_vector(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    inserted = ((2, "問題: 新問題？\n答案: 新答案。"), *((n + 1, t) for n, t in BASE))
    diff = hashing_kb.sync_source("faq.xlsx", rows(*inserted))
    # Rows moved down by one: locators changed, but only the new text needs a vector.
    assert diff.embedded == 1
    assert hashing_kb.catalog.count() == 4


def test_dry_run_writes_nothing(hashing_kb: KnowledgeBase):
    diff = hashing_kb.sync_source("faq.xlsx", rows(*BASE), dry_run=True)
    assert len(diff.added) == 3
    assert hashing_kb.catalog.count() == 0 and embedded(hashing_kb) == 0


def test_failed_source_keeps_serving_its_chunks(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    hashing_kb.mark_failed("faq.xlsx", "faq.xlsx: not a valid XLSX file")
    record = hashing_kb.catalog.source("faq.xlsx")
    assert record is not None and record.status == "failed" and record.items == 3
    assert HybridRetriever(hashing_kb).search("退貨", 1)[0].source == "faq.xlsx"


def test_sources_are_independent(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    hashing_kb.sync_source(
        "other.csv", rows((2, "問題: 營業時間？\n答案: 週一到週五。"), source="other.csv")
    )
    assert hashing_kb.drop_source("faq.xlsx") == 3
    assert hashing_kb.catalog.count() == 1
    assert [s.name for s in hashing_kb.catalog.sources()] == ["other.csv"]


def test_keyword_index_follows_the_catalog_and_persists(tmp_path):
    from knowledge.catalog import Catalog
    from knowledge.embedding import HashingEmbedder
    from knowledge.keyword_index import KeywordIndex
    from knowledge.vector_store import MemoryVectorStore

    catalog = Catalog.sqlite(tmp_path / "catalog.sqlite3")
    kb = KnowledgeBase(
        catalog, MemoryVectorStore(), [HashingEmbedder()], KeywordIndex(tmp_path / "kw")
    )
    kb.sync_source("faq.xlsx", rows(*BASE))
    assert kb.keyword_index().search(("統一", "編號"), 3)[0][0] == rows(*BASE)[2].id
    reopened = KeywordIndex(tmp_path / "kw")
    assert reopened.load(catalog.revision(), catalog.identity())
    assert reopened.search(("運費",), 1)[0][0] == rows(*BASE)[1].id
    assert not reopened.load(catalog.revision() + 1, catalog.identity())
    # another catalog at the same revision (a data dir moved to another database) rebuilds
    assert not KeywordIndex(tmp_path / "kw").load(catalog.revision(), "another catalog")


def test_workers_sharing_the_data_directory_save_and_load_the_keyword_index_at_once(tmp_path):
    """Two channels' turns in one worker, or two workers on one data directory, rebuild the
    index at the same moment: every save and load succeeds or steps aside, none raises, and
    what is left on disk is one whole index."""
    from knowledge.keyword_index import KeywordIndex

    ids = [f"c{i}" for i in range(300)]
    tokens = [["退貨", f"詞{i}", f"word{i % 7}"] for i in range(300)]
    indexes = [KeywordIndex(tmp_path / "keyword") for _ in range(6)]
    start = threading.Barrier(len(indexes))
    failures: list[BaseException] = []

    def churn(index: KeywordIndex) -> None:
        start.wait()
        try:
            for revision in range(15):
                index.build(ids, tokens, revision, "catalog")
                index.load(revision, "catalog")
        except BaseException as e:  # reported below
            failures.append(e)

    threads = [threading.Thread(target=churn, args=(i,)) for i in indexes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyword"]
    reopened = KeywordIndex(tmp_path / "keyword")
    assert reopened.load(14, "catalog")
    assert reopened.search(["詞42"], 1)[0][0] == "c42"


def test_tokens_of_an_older_tokenizer_are_recomputed(hashing_kb: KnowledgeBase):
    hashing_kb.sync_source("faq.xlsx", rows(*BASE))
    hashing_kb.keyword_index()
    hashing_kb.catalog.set_meta("tokenizer", "0")
    with hashing_kb.catalog.engine.begin() as conn:
        conn.execute(update(chunks).values(tokens="stale"))
    revision = hashing_kb.catalog.revision()
    assert hashing_kb.keyword_index().search(("運費",), 1)[0][0] == rows(*BASE)[1].id
    assert hashing_kb.catalog.revision() == revision + 1


def test_a_large_catalog_is_reindexed_behind_while_the_old_index_serves(
    hashing_kb: KnowledgeBase, monkeypatch
):
    """Over the size where a rebuild takes seconds, the catalog's new revision is indexed in
    the background: searches meanwhile are answered by the old index at once, and once the
    rebuild is done, by the new. The rebuild is held until the old index has been checked."""
    import knowledge.base

    kb = hashing_kb
    kb.sync_source("faq.xlsx", rows(*BASE))
    assert kb.keyword_index().search(("運費",), 1)[0][0] == rows(*BASE)[1].id
    monkeypatch.setattr(knowledge.base, "KEYWORD_REBUILD_BEHIND", 2)  # "large" from 3 items
    added = (5, "問題: 可以寄到金門嗎？\n答案: 可以，離島運費 220 元。")
    kb.sync_source("faq.xlsx", rows(*BASE, added))
    before = kb.keyword.revision
    release, reading = threading.Event(), threading.Event()
    all_tokens = kb.catalog.all_tokens

    def held_tokens():  # the rebuild's read of the catalog waits until the test lets it go
        reading.set()
        assert release.wait(30)
        return all_tokens()

    monkeypatch.setattr(kb.catalog, "all_tokens", held_tokens)
    served = kb.keyword_index()  # starts the rebuild; the old index, not a wait for the new
    assert reading.wait(30)
    for _ in range(3):  # while the rebuild runs, every search is served by the old index
        served = kb.keyword_index()
        assert served.revision == before != kb.catalog.revision()
        assert served.search(("金門",), 1) == []
        assert served.search(("運費",), 1)[0][0] == rows(*BASE)[1].id
    assert not kb.wait_for_keyword_index(0.05)  # still held
    release.set()
    assert kb.wait_for_keyword_index(30)
    index = kb.keyword_index()
    assert index.revision == kb.catalog.revision()
    assert index.search(("金門",), 1)[0][0] == rows(added)[0].id


def test_a_small_catalog_is_reindexed_at_once(hashing_kb: KnowledgeBase):
    kb = hashing_kb
    kb.sync_source("faq.xlsx", rows(*BASE))
    kb.keyword_index()
    kb.sync_source("faq.xlsx", rows(*BASE, (5, "問題: 可以寄到金門嗎？\n答案: 可以。")))
    assert (
        kb.keyword_index().search(("金門",), 1)[0][0]
        == rows((5, "問題: 可以寄到金門嗎？\n答案: 可以。"))[0].id
    )
