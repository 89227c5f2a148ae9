"""Hybrid retrieval over the fast in-memory knowledge base."""

from __future__ import annotations

import dataclasses

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
    searched = retriever.search("運費", 1)
    first = retriever.search("運費", 1)
    assert retriever.search("運費", 1) is first  # the cache's hits
    assert first == [dataclasses.replace(searched[0], tokens=None)]  # kept without tokens
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


def test_a_faq_row_s_question_is_a_signal_of_its_own(hashing_kb: KnowledgeBase):
    faq = Chunk.build(
        "faq.csv",
        "row=2",
        "問題: 點數會過期嗎？\n答案: 點數自發放日起 12 個月內有效。",
        {
            "language": "zh",
            "question": "點數會過期嗎？",
            "answer": "點數自發放日起 12 個月內有效。",
        },
    )
    page = Chunk.build("policy.pdf", "page=1", "點數的使用規則與有效期限。", {"language": "zh"})
    hashing_kb.sync_source("faq.csv", [faq])
    hashing_kb.sync_source("policy.pdf", [page])
    retriever = HybridRetriever(hashing_kb)
    rankings = retriever.signals("點數會過期嗎？")
    assert [doc for doc, _ in rankings["question:hashing"]] == [faq.id]
    assert {doc for doc, _ in rankings["dense:hashing"]} == {faq.id, page.id}
    hits = {h.id: h for h in retriever.search("點數會過期嗎？", 2)}
    assert "question:hashing" in hits[faq.id].scores
    assert "question:hashing" not in hits[page.id].scores


def _two_model_kb(tmp_path) -> KnowledgeBase:
    """A general model and one that, like MiniLM, only embeds English."""
    from knowledge.embedding import HashingEmbedder

    english = HashingEmbedder("english", languages=frozenset({"en"}))
    return KnowledgeBase.in_memory([HashingEmbedder("general"), english], tmp_path)


def test_an_english_question_can_be_answered_from_a_chinese_only_row(tmp_path):
    kb = _two_model_kb(tmp_path)
    items = [
        ("row=2", "問題: 點數 points 會過期嗎？\n答案: 點數 12 個月後到期。", "zh"),
        ("row=3", "Question: How long does delivery take?\nAnswer: Two business days.", "en"),
    ]
    kb.sync_source(
        "faq.csv", [Chunk.build("faq.csv", loc, t, {"language": lang}) for loc, t, lang in items]
    )
    config = RetrievalConfig(weights={"dense:english": 3.0}, language_weights={})
    hits = HybridRetriever(kb, config).search("do points expire", 2)
    # The English-only model sees the English row alone and would put it first on its weight;
    # the Chinese row is scored on the signals that could see it.
    assert [h.locator for h in hits] == ["row=2", "row=3"]
    assert "dense:english" not in hits[0].scores


def test_knowledge_in_one_language_is_fused_as_before(tmp_path):
    kb = _two_model_kb(tmp_path)
    items = [
        ("row=2", "Question: Do points expire?\nAnswer: After 12 months.", "en"),
        ("row=3", "Question: How long does delivery take?\nAnswer: Two business days.", "en"),
    ]
    kb.sync_source(
        "faq.csv", [Chunk.build("faq.csv", loc, t, {"language": lang}) for loc, t, lang in items]
    )
    retriever = HybridRetriever(kb, RetrievalConfig(weights={"dense:english": 3.0}))
    query = "do points expire"
    fused = retriever.fuse(retriever.signals(query), "en", retriever.keyword_ranges(query))
    hits = retriever.search(query, 2)
    assert [(h.id, h.score) for h in hits] == [(doc, score) for doc, score in fused[:2]]


def test_hits_carry_their_texts_keyword_tokens_as_ingested(hashing_kb: KnowledgeBase):
    from knowledge.text import tokenize

    load(hashing_kb)
    hits = HybridRetriever(hashing_kb).search("退貨 delivery", 3)
    assert len(hits) == 3
    for hit in hits:
        assert hit.tokens == tokenize(hit.text) and hit.tokens
