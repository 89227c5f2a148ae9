"""The synonym layer of keyword search: everyday variants meet their shop's wording."""

from __future__ import annotations

from ingest.model import Chunk
from knowledge.base import KnowledgeBase
from knowledge.retriever import HybridRetriever, RetrievalConfig
from knowledge.synonyms import GROUPS, fold, mend_particles
from knowledge.text import tokenize, tokenize_without_synonyms


def test_variants_fold_to_the_first_form_of_their_group():
    assert fold("我要打統編").split() == ["我要打", "統一編號"]
    assert fold("可以取貨付款嗎").split() == ["可以", "貨到付款", "嗎"]
    assert "貨到付款" in tokenize("可以貨到付款嗎") and "貨到付款" in tokenize("可以取貨付款嗎")
    assert "linepay" in fold("line pay 付款").split()
    assert "小七超商" in fold("在7-11取貨") and "小七超商" in fold("提供 7-eleven 取貨")


def test_a_kept_form_is_not_broken_by_a_shorter_variant_inside_it():
    # 到付 is a variant, and it sits inside 貨到付款.
    assert fold("貨到付款").strip() == "貨到付款"


def test_a_kept_form_in_the_text_is_read_with_its_neighbours():
    assert fold("非會員退貨要怎麼申請") == "非會員退貨要怎麼申請"
    assert "非會員" in tokenize("非會員退貨要怎麼申請")


def test_latin_variants_match_whole_words_only():
    assert fold("37110 元") == "37110 元"
    assert fold("refunding") == "refunding"
    assert fold("711").strip() == "小七超商"


def test_mixed_chinese_and_english_meets_the_chinese_wording():
    asked, written = (
        tokenize("點數會expire嗎"),
        tokenize("點數自發放日起 12 個月內有效，逾期自動失效"),
    )
    assert "到期" in asked and "到期" in written
    assert "到期" not in tokenize_without_synonyms("點數會expire嗎")


def test_the_words_of_customer_service_meet_across_the_languages():
    asked = set(tokenize("How do I cancel my order?"))
    written = set(tokenize("問題: 如何取消訂單？\n答案: 出貨前可在訂單頁面取消。"))
    assert {"取消", "訂單"} <= asked & written
    assert "取消訂閱" in fold("how do i unsubscribe from the newsletter").split()
    assert "密碼" in tokenize("I forgot my password") and "密碼" in tokenize("忘記密碼怎麼辦？")
    # whole words only: "reorder" and "returning's" stem are not 訂單 and 退貨
    assert "訂單" not in tokenize("reorder") and "退貨" not in tokenize("nonreturnable")


def test_every_group_has_a_kept_form_and_no_variant_in_two_groups():
    seen: set[str] = set()
    for group in GROUPS:
        assert len(group) >= 2
        for word in group[1:]:
            assert word not in seen, word
            seen.add(word)


def test_keyword_search_finds_the_row_in_the_shop_s_own_words(hashing_kb: KnowledgeBase):
    rows = [
        (
            "row=2",
            "問題: 點數要怎麼使用？會過期嗎？\n答案: 點數自發放日起 12 個月內有效，逾期自動失效。",
        ),
        ("row=3", "問題: 可以貨到付款嗎？\n答案: 只有超商取貨可以選擇取貨付款。"),
        ("row=4", "問題: 公司報帳要怎麼填？\n答案: 結帳時填寫統一編號與公司抬頭。"),
        ("row=6", "問題: 點數可以折抵運費嗎？\n答案: 點數可以折抵商品金額，點數不能折抵運費。"),
        ("row=5", "問題: 有哪些配送方式？\n答案: 提供 7-ELEVEN 取貨與宅配。"),
    ]
    chunks = [Chunk.build("faq.csv", loc, text, {"language": "zh"}) for loc, text in rows]
    hashing_kb.sync_source("faq.csv", chunks)
    keyword = HybridRetriever(hashing_kb, RetrievalConfig(mode="keyword"))
    assert keyword.search("點數會expire嗎", 1)[0].locator == "row=2"
    assert keyword.search("我要打統編", 1)[0].locator == "row=4"
    assert keyword.search("小七取貨", 1)[0].locator == "row=5"


def test_a_closing_ma_typed_as_its_homophone_is_read_as_the_particle():
    assert mend_particles("我不是會員也可以退貨媽") == "我不是會員也可以退貨嗎"
    assert mend_particles("退貨要付運費媽？") == "退貨要付運費嗎？"
    assert mend_particles("可以寄到日本媽 ") == "可以寄到日本嗎 "
    assert mend_particles("可以退ㄇ?") == "可以退嗎?"


def test_a_mother_is_left_alone():
    for text in ("可以寄給我媽", "這是送給姑媽的嗎", "媽媽說可以退", "我媽說可以退", "媽"):
        assert mend_particles(text) == text


def test_a_question_typed_with_the_homophone_finds_what_the_particle_finds(
    hashing_kb: KnowledgeBase,
):
    rows = [
        ("row=2", "問題: 退貨要付運費嗎？\n答案: 鑑賞期內退貨的運費由我們負擔。"),
        ("row=3", "問題: 媽媽節有優惠嗎？\n答案: 母親節當週全館九折。"),
    ]
    chunks = [Chunk.build("faq.csv", loc, text, {"language": "zh"}) for loc, text in rows]
    hashing_kb.sync_source("faq.csv", chunks)
    retriever = HybridRetriever(hashing_kb)
    typed = retriever.search("退貨要付運費媽", 2)
    meant = retriever.search("退貨要付運費嗎", 2)
    assert typed[0].locator == "row=2"
    assert [(h.id, h.scores) for h in typed] == [(h.id, h.scores) for h in meant]
    # The vector the search computed is the one the answerer asks for: nothing encoded twice.
    name = hashing_kb.embedders[0].name
    assert retriever.cached_query_vector(name, "退貨要付運費媽") is not None
