"""One customer message in, one decision out: answered (with citations), clarifying, refused.

The default answerer writes no words of its own beyond the fixed texts: a FAQ row answers
with its answer, a passage with its own sentences. It stores nothing; the conversation
service logs what it decides.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.answering.candidates import Candidate, answer_key, group
from bot.answering.classifier import ClassifierSlot
from bot.answering.composer import LLMComposer
from bot.answering.extract import citation, public_title, reply_text
from bot.answering.followup import chosen_option, is_follow_up, with_context
from bot.answering.language import CustomerLanguage
from bot.answering.refusal import RefusalModel, Verdict, signals
from bot.answering.scale import SimilarityScale, stored_scales
from bot.answering.texts import say
from bot.conversation.events import Citation, Decision, Retrieved
from knowledge.base import QUESTION_VIEW
from knowledge.courtesy import without_courtesy
from knowledge.embedding import serves
from knowledge.retriever import Hit, HybridRetriever, dense_signal
from knowledge.text import tokenize

SEARCH_DEPTH = 30
KEEP_RETRIEVED = 10  # retrieved items recorded with the turn
# The reason of a clarifying turn in the middle band: "is this what you meant?" with the
# closest item, where the bot was neither sure enough to answer nor sure enough to refuse.
CLOSEST_MATCH = "closest_match"
CLOSE_CANDIDATES = "close_candidates"


@dataclass(frozen=True)
class AnswerContext:
    """What the answerer needs to know of the conversation so far."""

    previous_question: str | None = None  # the question of the last answered/clarifying turn
    options: tuple[str, ...] = ()  # the options of a clarifying question just asked
    option_items: tuple[str, ...] = ()  # the item each option stands for


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    question: str
    language: CustomerLanguage
    reply: str
    reason: str
    confidence: float
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[Retrieved, ...] = ()
    topic: str | None = None
    options: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    answer_mode: str = "extractive"


@dataclass(frozen=True)
class AnswerPolicy:
    # Two different answers whose scores are this close (relative to the best) are both offered.
    clarify_gap: float = 0.03
    # With an answer classifier: two answers whose probabilities are this close.
    clarify_gap_p: float = 0.1
    max_options: int = 2
    # Below the refusal threshold but within the model's offer band: this many closest
    # different answers are offered to pick from.
    max_offered: int = 3


@dataclass(frozen=True)
class _Attempt:
    question: str
    candidates: list[Candidate]
    verdict: Verdict
    probabilities: dict[str, float] | None = None  # the answer classifier's, if any


class Answerer:
    def __init__(
        self,
        retriever: HybridRetriever,
        refusal: RefusalModel,
        policy: AnswerPolicy | None = None,
        composer: LLMComposer | None = None,
        classifier: ClassifierSlot | None = None,
    ) -> None:
        self.retriever = retriever
        self.refusal = refusal
        self.policy = policy or AnswerPolicy()
        self.composer = composer
        self.classifier = classifier or ClassifierSlot(None)
        self._scales: dict[str, SimilarityScale] = {}

    def answer(
        self, text: str, language: CustomerLanguage, context: AnswerContext | None = None
    ) -> Outcome:
        started = time.perf_counter()
        context = context or AnswerContext()
        outcome = self._decide(text.strip(), language, context)
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(**{**outcome.__dict__, "latency_ms": round(elapsed, 2)})

    def attempt(self, question: str, language: CustomerLanguage) -> _Attempt:
        asked = question
        # 不好意思，… 麻煩了 says how the customer asks, not what: searched and judged without it
        question = without_courtesy(question)
        hits = self.retriever.search(question, SEARCH_DEPTH)
        candidates = group(hits)
        probabilities = self._classify(question, language) if candidates else None
        if probabilities is not None:
            # The classifier knows the knowledge's phrasings better than the nearest rows do:
            # the retrieved answer it finds likeliest goes first.
            best = max(candidates, key=lambda c: probabilities.get(c.key, 0.0))
            candidates = [best, *(c for c in candidates if c is not best)]
        filled = self._dense_of_top(question, language, candidates[0]) if candidates else None
        scale = self._scale_for(language, candidates[0]) if candidates else None
        values = signals(question, candidates, probabilities, filled, scale, language)
        verdict = self.refusal.judge(language, values)
        return _Attempt(asked, candidates, verdict, probabilities)

    def scale(self, language: CustomerLanguage) -> SimilarityScale | None:
        """The similarity scale of the knowledge's rows in `language`, as the last ingest
        measured it. Read again until it is measured at the knowledge's revision (an ingest in
        another process measures it just after changing the knowledge); a scale a few rows
        old is still the knowledge's own, so it is used meanwhile."""
        revision = self.retriever.kb.catalog.revision()
        if not self._scales or any(s.revision != revision for s in self._scales.values()):
            self._scales = stored_scales(self.retriever.kb)
        return self._scales.get(language)

    def _scale_for(self, language: CustomerLanguage, top: Candidate) -> SimilarityScale | None:
        """The scale of the question's language, when its best item is in that language: a
        question answered from an item in the other language is less similar to it on any
        knowledge (e5 across languages), and its similarity says nothing on that scale."""
        item_language = top.best.metadata.get("language")
        return self.scale(language) if item_language in (None, "und", language) else None

    def _dense_of_top(
        self, question: str, language: CustomerLanguage, top: Candidate
    ) -> dict[str, float]:
        """Dense similarities of a best candidate that some dense ranking did not reach."""
        found: dict[str, float] = {}
        kb = self.retriever.kb
        for embedder in kb.embedders:
            signal = dense_signal(embedder.name)
            if not serves(embedder, language) or any(signal in h.scores for h in top.hits):
                continue
            ids = [top.best.id, top.best.id + QUESTION_VIEW]
            stored = kb.vectors.vectors(embedder.name, ids)
            if stored:
                vector = self.retriever.query_vector(embedder.name, question)
                found[signal] = max(float(vector @ v) for v in stored.values())
        return found

    def _classify(self, question: str, language: CustomerLanguage) -> dict[str, float] | None:
        classifier = self.classifier.current(self.retriever.kb.catalog.revision())
        if classifier is None:
            return None
        vectors = {
            e.name: self.retriever.query_vector(e.name, question)
            for e in self.retriever.kb.embedders
            if serves(e, language) and e.name in classifier.heads
        }
        return classifier.probabilities(vectors)

    def _decide(self, text: str, language: CustomerLanguage, context: AnswerContext) -> Outcome:
        details: dict[str, Any] = {}
        index = chosen_option(text, list(context.options)) if context.options else None
        picked = context.options[index] if index is not None else None
        if index is not None:
            details["picked_option"] = picked
            offered = self._offered(context, index)
            if offered is not None:
                return self._answer(offered, picked or text, language, details, "picked_option")
            attempt = self.attempt(picked or text, language)
        else:
            attempt = self.attempt(text, language)
            if context.previous_question and is_follow_up(text, language):
                joined = self.attempt(with_context(text, context.previous_question), language)
                details["follow_up"] = {
                    "alone": round(attempt.verdict.probability, 4),
                    "with_context": round(joined.verdict.probability, 4),
                }
                if joined.verdict.probability > attempt.verdict.probability and _leans_on(
                    text, joined
                ):
                    attempt = joined
        details["signals"] = {k: round(v, 4) for k, v in attempt.verdict.signals.items()}
        retrieved = tuple(
            Retrieved(h.id, round(h.score, 6), {k: round(v, 6) for k, v in h.scores.items()})
            for c in attempt.candidates
            for h in c.hits[:1]
        )[:KEEP_RETRIEVED]
        verdict = attempt.verdict
        common: dict[str, Any] = {
            "question": attempt.question,
            "language": language,
            "confidence": round(verdict.probability, 4),
            "retrieved": retrieved,
            "details": details,
        }
        if not verdict.answerable and verdict.offer and picked is None:
            # The band's lower part: too unsure to answer or to offer one item as the match,
            # not so far off that a flat refusal is all the bot can do. The closest answers are
            # offered to pick from, beside a person; none is asserted, and no topic is counted.
            offered = attempt.candidates[: self.policy.max_offered]
            return Outcome(
                decision=Decision.CLARIFYING,
                reply=say("closest_matches" if len(offered) > 1 else "closest_match", language),
                reason=CLOSEST_MATCH,
                citations=tuple(citation(c) for c in offered),
                options=tuple(self._option_label(c, language) for c in offered),
                **common,
            )
        if not verdict.answerable:
            # No topic: the nearest item of a question the knowledge cannot answer says
            # nothing about what it was about (and would skew containment per topic).
            return Outcome(
                decision=Decision.REFUSED,
                reply=say("refusal", language),
                reason=verdict.reason,
                **common,
            )
        top = attempt.candidates[0]
        close = self._close_rivals(attempt, language)
        if picked is None and close:
            offered = [top, *close]
            options = tuple(self._option_label(c, language) for c in offered)
            return Outcome(
                decision=Decision.CLARIFYING,
                reply=say("clarify", language),
                reason=CLOSE_CANDIDATES,
                citations=tuple(citation(c) for c in offered),
                topic=top.topic,
                options=options,
                **common,
            )
        if picked is None and verdict.unsure:
            # The middle band: neither a confident answer nor a flat refusal. The closest item
            # is offered as an option to pick (or a person to ask), and nothing is asserted.
            return Outcome(
                decision=Decision.CLARIFYING,
                reply=say("closest_match", language),
                reason=CLOSEST_MATCH,
                citations=(citation(top),),
                topic=top.topic,
                options=(self._option_label(top, language),),
                **common,
            )
        reason = "follow_up" if attempt.question != text and picked is None else "confident"
        return self._answer(attempt.candidates, attempt.question, language, details, reason, common)

    def _answer(
        self,
        candidates: list[Candidate],
        question: str,
        language: CustomerLanguage,
        details: dict[str, Any],
        reason: str,
        common: dict[str, Any] | None = None,
    ) -> Outcome:
        top = candidates[0]
        reply = reply_text(top, question)
        mode = "extractive"
        if self.composer is not None:
            drafted, details["llm"] = self.composer.compose(question, candidates, language)
            if drafted is not None:
                reply, mode = drafted, "llm"
        item_language = top.best.metadata.get("language")
        if mode == "extractive" and item_language in ("zh", "en") and item_language != language:
            reply = f"{reply}\n{say('only_in_other_language', language)}"
        common = common or {
            "question": question,
            "language": language,
            "confidence": 1.0,
            "retrieved": (Retrieved(top.best.id, 1.0),),
            "details": details,
        }
        return Outcome(
            decision=Decision.ANSWERED,
            reply=reply,
            reason=reason,
            citations=(citation(top),),
            topic=top.topic,
            answer_mode=mode,
            **common,
        )

    def _offered(self, context: AnswerContext, index: int) -> list[Candidate] | None:
        """The item the bot itself offered as option `index`, as a candidate: the customer
        chose it, so it is answered as it is (its label may not find it again)."""
        if index >= len(context.option_items):
            return None
        item_id = context.option_items[index]
        stored = self.retriever.kb.catalog.get([item_id]).get(item_id)
        if stored is None:  # gone since the question was asked
            return None
        hit = Hit(
            id=item_id,
            text=stored.text,
            source=stored.source,
            locator=stored.locator,
            metadata={**stored.metadata, "hash": stored.hash},
            score=1.0,
            scores={},
            ranks={},
        )
        return [Candidate(answer_key(hit), (hit,), 1.0)]

    def _close_rivals(self, attempt: _Attempt, language: CustomerLanguage) -> list[Candidate]:
        """Different answers scoring within clarify_gap of the best, that are answerable too."""
        top = attempt.candidates[0]
        p = attempt.probabilities
        rivals: list[Candidate] = []
        for rival in attempt.candidates[1 : self.policy.max_options]:
            if p is not None:
                close = p.get(top.key, 0.0) - p.get(rival.key, 0.0) <= self.policy.clarify_gap_p
            else:
                close = top.score > 0 and (top.score - rival.score) / top.score <= (
                    self.policy.clarify_gap
                )
            if not close:
                break
            reordered = [rival, *(c for c in attempt.candidates if c is not rival)]
            values = signals(
                attempt.question,
                reordered,
                p,
                scale=self._scale_for(language, rival),
                language=language,
            )
            if self.refusal.judge(language, values).answerable:
                rivals.append(rival)
        return rivals

    @staticmethod
    def _option_label(candidate: Candidate, language: CustomerLanguage) -> str:
        if candidate.question:
            return candidate.question
        page = candidate.best.locator.split(";")[0].removeprefix("page=")
        if page.isdigit():
            # the document's title, as the customer's citations name it, never its file name
            title = public_title(candidate.best)
            return say("clarify_passage", language, source=title, page=page)
        text = candidate.best.text.strip().splitlines()[0]
        return text[:60] + ("…" if len(text) > 60 else "")


def _leans_on(message: str, joined: _Attempt) -> bool:
    """Does the completed reading's answer take up what the follow-up itself asks? "那離島呢？"
    after a shipping question does (the answer mentions 離島); "那今天台北天氣如何？" does not,
    and must be judged on its own."""
    own = set(tokenize(message))
    if not own or not joined.candidates:
        return True  # nothing of its own to check ("那呢？", "and?")
    return bool(own & joined.candidates[0].words)
