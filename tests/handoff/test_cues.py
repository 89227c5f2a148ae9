"""The lexical cues the negativity model reads beside the vector: the angry customer's words
(a demand, blame aimed at the company, contempt, escalation) fire; the words of a calm
question about the same subject, and courtesy, do not."""

from __future__ import annotations

import pytest

from handoff.sentiment import LEXICAL, lexical_features

ANGER_CUES = ("insults", "persistence", "sarcasm", "demand", "blame", "contempt", "escalation")


def cues(text: str) -> dict[str, float]:
    return {name: value for name, value in zip(LEXICAL, lexical_features(text), strict=True)}


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("退錢！我不想再等了", "demand"),
        ("今天不給我一個交代我不會罷休", "demand"),
        ("I want my money back, refund me now", "demand"),
        ("你們到底有沒有在處理", "blame"),
        ("憑什麼不給退", "blame"),
        ("這是什麼鬼服務", "blame"),
        ("搞什麼，又延遲", "blame"),
        ("what is wrong with you people", "blame"),
        ("do you even care about your customers?", "blame"),
        ("黑心商家，敷衍了事", "contempt"),
        ("真的受夠了", "contempt"),
        ("total rip-off, I'm fed up", "contempt"),
        ("再不處理我就上網公開", "escalation"),
        ("我要客訴", "escalation"),
        ("再也不會來了", "escalation"),
        ("I'm filing a chargeback and telling the BBB", "escalation"),
        ("never again, going elsewhere", "escalation"),
    ],
)
def test_an_angry_customer_s_words_fire_their_cue(text: str, cue: str) -> None:
    assert cues(text)[cue] > 0


CALM = [
    "退貨要幾天內申請",
    "退款什麼時候會到",
    "可以退錢嗎",
    "東西有瑕疵怎麼辦",
    "吹風機壞了保固多久",
    "我想取消訂單，要怎麼做",
    "包裹還沒收到，想問一下大概什麼時候會到",
    "可以馬上出貨嗎",
    "你們是幾點開門",
    "how do I get a refund",
    "my order was cancelled, when will I get the money?",
    "the item arrived broken, can I exchange it?",
    "can you ship it right away?",
    "tell me a joke",
    "what's the weather like right now",
    "如何檢舉違章建築",
    "我想找消費者保護的相關法規",
]


@pytest.mark.parametrize("text", CALM)
def test_a_calm_question_with_complaint_words_fires_no_anger_cue(text: str) -> None:
    fired = {name: v for name, v in cues(text).items() if name in ANGER_CUES and v > 0}
    assert not fired, fired


@pytest.mark.parametrize(
    ("bare", "polite"),
    [
        ("退貨要幾天內申請", "不好意思，退貨要幾天內申請？麻煩了"),
        ("退款什麼時候會到", "您好，請問退款什麼時候會到，謝謝"),
        ("can I return this?", "Sorry to bother you, can I return this? Thanks!"),
    ],
)
def test_courtesy_fires_only_its_own_cue(bare: str, polite: str) -> None:
    before, after = cues(bare), cues(polite)
    changed = {n for n in LEXICAL if before[n] != after[n]} - {"chinese", "capitals"}
    assert changed == {"courtesy"}


def test_learned_n_gram_cues_move_the_score_and_courtesy_is_not_read() -> None:
    from handoff.sentiment import SentimentModel, SentimentWeights, cue_grams
    from knowledge.embedding import HashingEmbedder

    embedder = HashingEmbedder()
    weights = SentimentWeights(
        embedder=embedder.name,
        coef=[0.0] * embedder.dim,
        intercept=-2.0,
        lexical=list(LEXICAL),
        lexical_coef=[0.0] * len(LEXICAL),
        threshold=0.8,
        cues={"受夠": 3.0, "不好": 5.0},
    )
    model = SentimentModel(embedder, weights)
    assert model.cue_sum("我受夠了") == pytest.approx(3.0)
    assert model.score("我受夠了") > 0.7 > 0.2 > model.score("請問運費多少")
    # 不好意思 around a question is left out before the cues read it
    assert "不好" not in cue_grams("不好意思，退貨要幾天")
    assert model.cue_sum("不好意思，退貨要幾天") == 0.0
