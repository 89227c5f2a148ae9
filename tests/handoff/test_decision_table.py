"""The gate's decision table: what happens to a calm, an upset and an angry customer, with and
without an answer from the bot (a sentiment model whose score is set by lexical cues alone, so
every row of the table can be reached on purpose)."""

from __future__ import annotations

import pytest

from bot.answering.answerer import Outcome
from bot.conversation.events import Decision
from bot.conversation.service import acknowledged
from handoff.gate import ANGRY, CALM, UPSET, Gate, GateVerdict
from handoff.sentiment import LEXICAL, SentimentModel, SentimentWeights
from handoff.settings import GateSettings
from knowledge.embedding import HashingEmbedder

# z = -4 + 4·insults + 6·exclamations: no cue → 0.02 (calm); one insult and one "!" → 0.5
# (upset); two insults and "!!!" → 1.0 - 0.0025 (angry).
CUES = {"insults": 4.0, "exclamations": 6.0}


@pytest.fixture
def model() -> SentimentModel:
    embedder = HashingEmbedder()
    weights = SentimentWeights(
        embedder=embedder.name,
        coef=[0.0] * embedder.dim,
        intercept=-4.0,
        lexical=list(LEXICAL),
        lexical_coef=[CUES.get(name, 0.0) for name in LEXICAL],
        threshold=0.8,
        mild_threshold=0.3,
    )
    return SentimentModel(embedder, weights)


@pytest.fixture
def gate(model: SentimentModel) -> Gate:
    return Gate(GateSettings(), model, model.embedder)


CALM_TEXT = "how long does a refund take"
UPSET_TEXT = "this is useless! how long does a refund take"
ANGRY_TEXT = "useless and pathetic!!! how long does a refund take"


def decide(gate: Gate, text: str, decision: str) -> GateVerdict:
    return gate.after_answer(text, decision, gate.before_answer(text, "en", []), [])


def test_the_moods_follow_the_two_thresholds(gate: Gate) -> None:
    assert gate.before_answer(CALM_TEXT, "en", []).mood == CALM
    assert gate.before_answer(UPSET_TEXT, "en", []).mood == UPSET
    assert gate.before_answer(ANGRY_TEXT, "en", []).mood == ANGRY


def test_an_angry_customer_goes_to_a_person_before_any_answer(gate: Gate) -> None:
    verdict = gate.before_answer(ANGRY_TEXT, "en", [])
    assert verdict.trigger == "negative_sentiment"
    assert decide(gate, ANGRY_TEXT, "answered").trigger == "negative_sentiment"


def test_an_upset_customer_the_bot_can_answer_stays_with_the_bot(gate: Gate) -> None:
    assert gate.before_answer(UPSET_TEXT, "en", []).trigger is None
    verdict = decide(gate, UPSET_TEXT, "answered")
    assert verdict.trigger is None and verdict.mood == UPSET


@pytest.mark.parametrize("decision", ["refused", "clarifying"])
def test_an_upset_customer_the_bot_cannot_help_goes_to_a_person(gate: Gate, decision: str) -> None:
    verdict = decide(gate, UPSET_TEXT, decision)
    assert verdict.trigger == "upset_not_helped"
    assert verdict.value == pytest.approx(verdict.sentiment)


def test_a_calm_customer_the_bot_cannot_help_once_stays(gate: Gate) -> None:
    assert decide(gate, CALM_TEXT, "refused").trigger is None


def test_asking_for_a_person_comes_first_whatever_the_mood(gate: Gate) -> None:
    text = "useless and pathetic!!! get me a human"
    assert gate.before_answer(text, "en", []).trigger == "explicit_request"


def test_the_upset_band_can_be_switched_off(model: SentimentModel) -> None:
    gate = Gate(GateSettings(upset_sentiment=False), model, model.embedder)
    verdict = decide(gate, UPSET_TEXT, "refused")
    assert verdict.mood == CALM and verdict.trigger is None


def test_thresholds_from_settings_override_the_model(model: SentimentModel) -> None:
    gate = Gate(GateSettings(sentiment_threshold=0.4), model, model.embedder)
    assert gate.before_answer(UPSET_TEXT, "en", []).trigger == "negative_sentiment"
    # an upset threshold above the angry one is capped by it
    gate = Gate(GateSettings(upset_threshold=0.95), model, model.embedder)
    assert gate.upset_threshold == gate.sentiment_threshold == 0.8


def outcome(decision: Decision, language: str = "zh") -> Outcome:
    return Outcome(
        decision=decision,
        question="退款要多久",
        language=language,  # type: ignore[arg-type]
        reply="退款約 7 個工作天入帳。",
        reason="confident",
        confidence=0.9,
    )


def verdict(mood: str, grievance: str | None = None) -> GateVerdict:
    return GateVerdict(None, None, {"grievance": grievance}, 0.5, mood)


def test_an_upset_customer_hears_their_mood_acknowledged_then_the_answer_then_a_person() -> None:
    said = acknowledged(outcome(Decision.ANSWERED), verdict(UPSET, "waiting"))
    first, answer, offer = said.reply.split("\n\n")
    assert first == "很抱歉讓您久等了。"
    assert answer == "退款約 7 個工作天入帳。"
    assert "專人" in offer
    assert said.details["acknowledged"] == "acknowledge_waiting"


def test_the_acknowledgement_names_what_upset_them_in_their_language() -> None:
    again = acknowledged(outcome(Decision.ANSWERED, "en"), verdict(UPSET, "asked_again"))
    assert again.reply.startswith("Sorry you've had to ask about this again.")
    general = acknowledged(outcome(Decision.ANSWERED, "en"), verdict(UPSET))
    assert general.reply.startswith("I'm sorry for the trouble.")
    assert "person" in general.reply.split("\n\n")[-1]


@pytest.mark.parametrize("mood", [CALM, ANGRY])
def test_calm_and_angry_customers_get_no_acknowledgement(mood: str) -> None:
    plain = outcome(Decision.ANSWERED)
    assert acknowledged(plain, verdict(mood, "waiting")) == plain


def test_an_answer_that_was_not_given_is_not_acknowledged() -> None:
    refused = outcome(Decision.REFUSED)
    assert acknowledged(refused, verdict(UPSET, "waiting")) == refused
    assert acknowledged(refused, None) == refused
