"""Hybrid retrieval over the fast in-memory knowledge base."""

from __future__ import annotations

from ingest.model import Chunk
from knowledge.base import KnowledgeBase
from knowledge.retriever import HybridRetriever, RetrievalConfig


def load(kb: KnowledgeBase) -> None:
    items = [
        ("row=2", "問題: 退貨要怎麼申請？\n答案: 到貨七天內在會員中心申請。", "zh"),
        ("row=3", "問題: 運費多少？\n答案: 滿 990 元免運。", "zh"),
        ("row=4", "Question: How long does delivery take?\nAnswer: Two business days.", "en"),
    ]
    kb.sync_source(
        "faq.csv", [Chunk.build("faq.csv", loc, t, {"language": lang}) for loc, t, lang in items]
    )


def test_hits_carry_each_signal_score_and_citation(hashing_kb: KnowledgeBase):
    load(hashing_kb)
    hits = HybridRetriever(hashing_kb).search("退货怎么申请", 2)
    top = hits[0]
    assert top.locator == "row=2" and top.source == "faq.csv"
    assert set(top.scores) == {"dense:hashing", "keyword"}
    assert top.ranks["keyword"] == 1
    assert top.score > hits[1].score
    assert set(top.as_dict()) >= {"id", "text", "source", "locator", "score", "scores"}
    assert top.metadata["hash"] and top.metadata["ingested_at"] and top.metadata["language"] == "zh"


def test_empty_query_and_empty_store_return_nothing(hashing_kb: KnowledgeBase):
    retriever = HybridRetriever(hashing_kb)
    assert retriever.search("   ", 5) == []
    assert retriever.search("退貨", 5) == []


def test_repeated_query_hits_the_cache_until_the_knowledge_changes(hashing_kb: KnowledgeBase):
    load(hashing_kb)
    retriever = HybridRetriever(hashing_kb)
    first = retriever.search("運費", 1)
    assert retriever.search("運費", 1) is first
    hashing_kb.sync_source(
        "faq.csv", [Chunk.build("faq.csv", "row=3", "問題: 運費多少？\n答案: 一律免運。", {})]
    )
    fresh = retriever.search("運費", 1)
    assert fresh is not first and "一律免運" in fresh[0].text


def test_modes_switch_signals_off(hashing_kb: KnowledgeBase):
    load(hashing_kb)
    dense = HybridRetriever(hashing_kb, RetrievalConfig(mode="dense")).search("delivery", 1)[0]
    keyword = HybridRetriever(hashing_kb, RetrievalConfig(mode="keyword")).search("delivery", 1)[0]
    assert set(dense.scores) == {"dense:hashing"}
    assert set(keyword.scores) == {"keyword"}


def test_score_fusion_ranks_the_matching_item_first(hashing_kb: KnowledgeBase):
    load(hashing_kb)
    top = HybridRetriever(hashing_kb, RetrievalConfig(fusion="score")).search("delivery", 1)[0]
    assert top.locator == "row=4"
