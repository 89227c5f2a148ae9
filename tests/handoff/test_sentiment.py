"""The shipped negativity model over the real e5 embedder, and the gate signals that use it."""

from __future__ import annotations

import pytest

from handoff.gate import Gate, PastTurn
from handoff.sentiment import SentimentModel, shipped_weights
from handoff.settings import GateSettings


def test_the_shipped_weights_load() -> None:
    weights = shipped_weights()
    assert weights.embedder == "e5"
    assert len(weights.coef) == 384
    assert 0 < weights.threshold < 1


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    from knowledge.embedding import E5Embedder

    return SentimentModel.load(E5Embedder())


ANGRY = [
    "你們的客服真的爛到極點，問三次都沒有人回！",
    "東西送來就是壞的，你們到底有沒有在檢查？氣死人",
    "我已經等了三個禮拜，再不出貨我就要退款，太扯了",
    "你們到底在搞什麼！！我已經等了兩個禮拜，東西還沒到，氣死我了",
    "This is absolutely unacceptable, my order is two weeks late!",
    "You people are useless. Nobody has answered my emails.",
    "I'm furious, the package arrived broken AGAIN",
    "Stop wasting my time and fix my order",
    # implicit anger: long holds, being passed around, sarcasm
    "so glad I've been on hold over an hour and transferred three times",
    "poor service on every one of my cancelled bookings",
    "45 minutes on hold, then your manager hung up on me",
    # anger at the company: a demand, blame, contempt, escalation (typos and all)
    "爛透了，快退錢！再也不買了",
    "你們客服到底有沒有在看訊息啊？？已經問第三次了",
    "wtf is wrong with ur website, cant even checkout. ridiculous",
    "this is the 3rd time im asking, where is my refund???",
]
NEUTRAL = [
    "請問運費怎麼算？",
    "你們週末有營業嗎？",
    "可以用信用卡分期付款嗎",
    "退貨需要附上發票嗎？",
    "How long does delivery to Taichung take?",
    "Do you accept Line Pay?",
    "Can I change the size of my order?",
    "What is your return policy for sale items?",
]
# Calm questions that use the words of a complaint (退貨, 退款, 瑕疵, 壞了, 取消, 密碼), asked
# plainly and politely: the model once read their topic as anger, and courtesy made it worse.
CALM_WITH_COMPLAINT_WORDS = [
    "退貨要幾天內申請",
    "退款什麼時候會到",
    "東西有瑕疵怎麼辦",
    "內衣可以退嗎",
    "吹風機壞了保固多久",
    "修東西要多久",
    "不想收電子報了",
    "收到的商品有瑕疵可以換貨嗎？",
    "拆封過的商品還能退嗎？",
    "我想換尺寸，需要先退貨再重新下單嗎？",
    "可以退貨嗎",
    "密碼忘了",
    "怎麼刪帳號",
    "收到退件通知的原因是什麼？",
    "退款多久會入帳",
    "can I return this?",
    "how many days do I have to return something",
    "where is my order??",
    "I forgot my password",
    "how do I delete my account",
    "請問退貨要自己付運費媽",
    "line pay付款失敗會不會被扣錢",
    "Thanks! one more question, can I change the delivery address?",
]
POLITE = [
    *(f"不好意思，{t}" for t in CALM_WITH_COMPLAINT_WORDS[:11]),
    *(f"{t}麻煩了" for t in CALM_WITH_COMPLAINT_WORDS[:11]),
    "Sorry to bother you, can I return this? Thanks!",
]


def _language(text: str) -> str:
    return "en" if text.isascii() else "zh"


@pytest.mark.integration
@pytest.mark.parametrize("text", ANGRY)
def test_angry_messages_go_to_a_person(model: SentimentModel, text: str) -> None:
    verdict = Gate(GateSettings(), model).before_answer(text, _language(text), [])
    assert verdict.mood == "angry" and verdict.trigger == "negative_sentiment"


@pytest.mark.integration
@pytest.mark.parametrize("text", NEUTRAL + CALM_WITH_COMPLAINT_WORDS + POLITE)
def test_calm_questions_stay_calm(model: SentimentModel, text: str) -> None:
    verdict = Gate(GateSettings(), model).before_answer(text, _language(text), [])
    assert verdict.mood == "calm" and verdict.trigger is None, verdict.signals


@pytest.mark.integration
def test_the_two_operating_points_are_ordered(model: SentimentModel) -> None:
    assert 0 < model.mild_threshold < model.threshold < 1


@pytest.mark.integration
def test_scores_are_probabilities_in_order(model: SentimentModel) -> None:
    scores = model.scores([*ANGRY, *NEUTRAL])
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert min(scores[: len(ANGRY)]) > max(scores[len(ANGRY) :])
    assert scores[0] == pytest.approx(model.score(ANGRY[0]), abs=1e-5)


@pytest.mark.integration
def test_the_gate_hands_off_an_angry_message(model: SentimentModel) -> None:
    gate = Gate(GateSettings(), model)
    verdict = gate.before_answer("你們的客服真的爛到極點，問三次都沒有人回！", "zh", [])
    assert verdict.trigger == "negative_sentiment"
    assert verdict.sentiment == verdict.value == verdict.signals["sentiment"]
    calm = gate.before_answer("請問運費怎麼算？", "zh", [])
    assert calm.trigger is None and calm.sentiment < model.threshold


@pytest.mark.integration
@pytest.mark.parametrize("record", [True, False], ids=["recorded", "scored-now"])
def test_worsening_mood_over_the_turns(model: SentimentModel, record: bool) -> None:
    # With the plain negativity trigger out of reach, only the trend can fire.
    gate = Gate(GateSettings(sentiment_threshold=1.0, upset_sentiment=False), model)
    calm = ["請問我的訂單什麼時候會出貨？", "好的，那大概要幾天？"]
    past = [PastTurn(t, "answered", model.score(t) if record else None) for t in calm]
    text = "都已經過了兩個禮拜了還沒收到，你們到底在幹嘛？"
    verdict = gate.before_answer(text, "zh", past)
    assert verdict.trigger == "sentiment_worsening"
    assert isinstance(verdict.value, float) and verdict.value >= 0.35
    # The same message in a conversation that was heated from the start is no change.
    heated = [PastTurn(t, "answered", None) for t in ANGRY[:2]]
    assert gate.before_answer(text, "zh", heated).trigger is None


@pytest.mark.integration
def test_the_same_question_in_other_words_after_a_refusal(model: SentimentModel) -> None:
    gate = Gate(GateSettings(), model)
    past = [PastTurn("忘記密碼怎麼辦", "refused", 0.1)]
    again = "密碼忘了要怎麼重設"
    verdict = gate.after_answer(again, "refused", gate.before_answer(again, "zh", past), past)
    # Both fire; the report names the first, and the similarity is recorded either way.
    assert verdict.trigger == "repeated_refusals"
    assert verdict.signals["rephrase_similarity"] >= 0.91
    clarified = gate.after_answer(again, "clarifying", gate.before_answer(again, "zh", past), past)
    assert clarified.trigger == "rephrased_question"
    other = "可以寄到離島嗎"
    moved_on = gate.after_answer(other, "clarifying", gate.before_answer(other, "zh", past), past)
    assert moved_on.trigger is None


class CountingEncoder:
    """The real e5 model, counting the texts it is asked to encode."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.languages = inner.languages
        self.encoded: list[str] = []

    def embed_queries(self, texts):
        self.encoded += list(texts)
        return self.inner.embed_queries(texts)


@pytest.mark.integration
def test_the_gate_reuses_the_vector_retrieval_computed(model: SentimentModel) -> None:
    from handoff.gate import Gate
    from handoff.settings import GateSettings

    text = "你們到底在搞什麼！！東西兩個禮拜還沒到"
    counting = CountingEncoder(model.embedder)
    retrieval_cache = {text: model.embedder.embed_queries([text])[0]}
    reusing = Gate(
        GateSettings(),
        SentimentModel(counting, model.weights),  # type: ignore[arg-type]
        counting,  # type: ignore[arg-type]
        known_vector=retrieval_cache.get,
    )
    verdict = reusing.before_answer(text, "zh", [])
    assert counting.encoded == []  # nothing encoded twice
    fresh = Gate(GateSettings(), model, model.embedder).before_answer(text, "zh", [])
    assert verdict.sentiment == pytest.approx(fresh.sentiment, abs=1e-4)
    assert verdict.trigger == fresh.trigger == "negative_sentiment"
    reusing.before_answer("另一句沒算過的話", "zh", [])
    assert counting.encoded == ["另一句沒算過的話"]
