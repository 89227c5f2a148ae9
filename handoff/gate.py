"""The handoff gate: whether a customer's message must go to a person, and which signal says so.

Before the bot answers, the gate looks at the message itself (an explicit request for a
person, negativity and its trend over the conversation, a sensitive topic, several questions,
length); after the bot decided, at how the conversation is going (refusals in a row, the same
question asked again after the bot did not help, an upset customer the bot could not answer).
Every signal's value is recorded in the verdict, whether it fired or not, so that a handoff
can be explained and thresholds tuned from the event log.

The customer's mood is one of three: calm, upset (negativity at or above the upset threshold)
or angry (at or above the angry threshold). The decision table, first row that holds wins:

| before answering | the bot's decision | outcome |
|---|---|---|
| asks for a person | any | hand off (explicit_request) |
| a dispute, threat, fraud or security incident | any | hand off (sensitive_topic) |
| angry | any | hand off (negative_sentiment) |
| mood worsening over turns | any | hand off (sentiment_worsening) |
| several questions / a very long message | any | hand off |
| upset | not answered | hand off (upset_not_helped) |
| upset | answered | answer, acknowledging the mood first and offering a person |
| calm | refused twice, or asked again after no help | hand off |
| calm | answered | answer |
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from handoff.questions import count_questions, message_length
from handoff.requests import RequestFinder
from handoff.sentiment import SentimentModel, grievance, prepared
from handoff.settings import GateSettings
from handoff.topics import TopicFinder
from knowledge.embedding import Embedder

# The order in which triggers are reported when several fire: the customer's own words first.
TRIGGERS = (
    "explicit_request",
    "sensitive_topic",
    "negative_sentiment",
    "sentiment_worsening",
    "complex_question",
    "long_message",
    "upset_not_helped",
    "repeated_refusals",
    "rephrased_question",
)
VECTOR_CACHE = 512  # recent messages' vectors: the previous message is usually among them
CALM, UPSET, ANGRY = "calm", "upset", "angry"


@dataclass(frozen=True)
class PastTurn:
    text: str  # an earlier customer message, oldest first in the sequence
    decision: str | None  # "answered", "clarifying", "refused", "handed_off"; None: no bot turn
    sentiment: float | None  # its negativity as recorded then (0..1), if known


@dataclass(frozen=True)
class GateVerdict:
    trigger: str | None  # None: stay with the bot; else one of TRIGGERS
    value: float | str | None  # the firing signal's value: phrase, score, topic, count
    signals: dict[str, float | str | None]  # every signal's value, recorded with the turn
    sentiment: float  # this message's negativity, 0..1
    mood: str = CALM  # calm, upset or angry, by the negativity thresholds

    @property
    def hand_off(self) -> bool:
        return self.trigger is not None


class Gate:
    """Decides per message; thread-safe, so concurrent turns may share one gate."""

    def __init__(
        self,
        settings: GateSettings,
        sentiment: SentimentModel | None,
        embedder: Embedder | None = None,
        known_vector: Callable[[str], np.ndarray | None] | None = None,
    ) -> None:
        self.settings = settings
        self.sentiment = sentiment
        self.embedder = embedder or (sentiment.embedder if sentiment is not None else None)
        # A query vector of `embedder` computed elsewhere already (retrieval encodes the same
        # message first): None when it has none. Encoding twice cost a fifth of the turns/s.
        self.known_vector = known_vector
        self.requests = RequestFinder.with_phrases(settings.extra_request_phrases)
        self.topics = TopicFinder.of(settings.sensitive_topics, settings.extra_sensitive_topics)
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def sentiment_threshold(self) -> float:
        if self.settings.sentiment_threshold is not None:
            return self.settings.sentiment_threshold
        return self.sentiment.threshold if self.sentiment is not None else 1.0

    @property
    def upset_threshold(self) -> float:
        if self.settings.upset_threshold is not None:
            return min(self.settings.upset_threshold, self.sentiment_threshold)
        if self.sentiment is None:
            return 1.0
        return min(self.sentiment.mild_threshold, self.sentiment_threshold)

    def mood_of(self, score: float | None) -> str:
        if score is None:
            return CALM
        if score >= self.sentiment_threshold:
            return ANGRY
        if self.settings.upset_sentiment and score >= self.upset_threshold:
            return UPSET
        return CALM

    # ---- before the bot answers ----------------------------------------------------------------

    def before_answer(self, text: str, language: str, past: Sequence[PastTurn]) -> GateVerdict:
        s = self.settings
        signals: dict[str, float | str | None] = {}
        fired: dict[str, float | str | None] = {}

        phrase = self.requests.find(text)
        signals["explicit_request"] = phrase
        if s.explicit_request and phrase is not None:
            fired["explicit_request"] = phrase

        topic = self.topics.find(text)
        signals["sensitive_topic"] = topic.topic if topic else None
        signals["sensitive_phrase"] = topic.phrase if topic else None
        if s.sensitive_topic and topic is not None:
            fired["sensitive_topic"] = topic.topic

        score = self._negativity(text)
        signals["sentiment"] = None if score is None else round(score, 4)
        if s.negative_sentiment and score is not None and score >= self.sentiment_threshold:
            fired["negative_sentiment"] = round(score, 4)

        rise = self._rise(score, past) if score is not None else None
        signals["sentiment_rise"] = None if rise is None else round(rise, 4)
        if (
            s.sentiment_worsening
            and rise is not None
            and score is not None
            and rise >= s.worsening_rise
            and score
            >= (s.worsening_floor if s.worsening_floor is not None else self.upset_threshold)
        ):
            fired["sentiment_worsening"] = round(rise, 4)

        questions = count_questions(text)
        signals["questions"] = questions
        if s.complex_question and questions >= s.max_questions:
            fired["complex_question"] = questions

        length = message_length(text)
        signals["length"] = length
        limit = s.long_message_chars_zh if language == "zh" else s.long_message_chars_en
        if s.long_message and length >= limit:
            fired["long_message"] = length

        mood = self.mood_of(score)
        signals["mood"] = mood
        signals["grievance"] = grievance(text) if mood != CALM else None
        return _verdict(fired, signals, round(score or 0.0, 4), mood)

    def _negativity(self, text: str) -> float | None:
        if self.sentiment is None:
            return None
        if self.embedder is not None and self.embedder.name == self.sentiment.embedder.name:
            return self.sentiment.scores_of([text], self._embed([text]))[0]
        return self.sentiment.score(text)

    def _rise(self, score: float, past: Sequence[PastTurn]) -> float | None:
        """How much more negative this message is than the calmest of the last few; past
        messages whose negativity was not recorded are scored now."""
        window = list(past)[-self.settings.worsening_window :]
        if not window:
            return None
        missing = [t.text for t in window if t.sentiment is None]
        scored = iter(self._negativities(missing))
        earlier = [t.sentiment if t.sentiment is not None else next(scored) for t in window]
        return score - min(earlier)

    def _negativities(self, texts: list[str]) -> list[float]:
        if not texts or self.sentiment is None:
            return []
        if self.embedder is not None and self.embedder.name == self.sentiment.embedder.name:
            return self.sentiment.scores_of(texts, self._embed(texts))
        return self.sentiment.scores(texts)

    # ---- after the bot decided ------------------------------------------------------------------

    def after_answer(
        self, text: str, decision: str, before: GateVerdict, past: Sequence[PastTurn]
    ) -> GateVerdict:
        s = self.settings
        signals = dict(before.signals)
        fired: dict[str, float | str | None] = {}

        if before.mood == UPSET and decision != "answered":
            fired["upset_not_helped"] = before.sentiment

        refusals = refusals_in_a_row(decision, past)
        signals["refusals_in_a_row"] = refusals
        if s.repeated_refusals and refusals >= s.refusals_in_a_row:
            fired["repeated_refusals"] = refusals

        similarity = self._rephrase_similarity(text, past)
        signals["rephrase_similarity"] = None if similarity is None else round(similarity, 4)
        # Asked again in other words and answered this time: the rephrasing worked. (With
        # "answered" in rephrase_after, the same question after an answer still counts.)
        helped_now = decision == "answered" and bool(past) and past[-1].decision != "answered"
        if (
            s.rephrased_question
            and similarity is not None
            and similarity >= s.rephrase_similarity
            and not helped_now
        ):
            fired["rephrased_question"] = round(similarity, 4)

        if before.trigger is not None or not fired:
            return replace(before, signals=signals)
        return _verdict(fired, signals, before.sentiment, before.mood)

    def _rephrase_similarity(self, text: str, past: Sequence[PastTurn]) -> float | None:
        """Cosine of this message and the previous one, when the bot did not help with that."""
        if not past or self.embedder is None:
            return None
        previous = past[-1]
        if previous.decision not in self.settings.rephrase_after:
            return None
        this, that = self._embed([text, previous.text])
        return float(this @ that)

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Query vectors of the messages as the sentiment model reads them, from a small cache
        of recent messages (one turn needs this message's vector twice, the next turn again)."""
        assert self.embedder is not None
        keys = [prepared(t) for t in texts]
        with self._lock:
            found = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if self.known_vector is not None:
            for key in list(missing):
                known = self.known_vector(key)
                if known is not None:
                    found[key] = known
                    missing.remove(key)
        if missing:
            found.update(zip(missing, self.embedder.embed_queries(missing), strict=True))
        with self._lock:
            for key in dict.fromkeys(keys):
                self._vectors[key] = found[key]
                self._vectors.move_to_end(key)
            while len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)
        return np.vstack([found[k] for k in keys])


def refusals_in_a_row(decision: str, past: Sequence[PastTurn]) -> int:
    """Refusals in a row ending with this turn; messages the bot did not reply to (decision
    None) neither count nor break the run."""
    if decision != "refused":
        return 0
    count = 1
    for turn in reversed(past):
        if turn.decision is None:
            continue
        if turn.decision != "refused":
            break
        count += 1
    return count


def _verdict(
    fired: dict[str, float | str | None],
    signals: dict[str, float | str | None],
    score: float,
    mood: str,
) -> GateVerdict:
    first = next((t for t in TRIGGERS if t in fired), None)
    return GateVerdict(first, fired.get(first) if first else None, signals, score, mood)
