"""Deciding "this is not in the knowledge base" from calibrated signals, not one magic constant.

Each turn yields a few signals about its best candidate answer: how similar the closest
knowledge is (per dense model), how far ahead of the next different answer it is, how much of
the question's wording it covers, and how many retrieved rows agree on it. A logistic model per
language, fitted on labelled questions (`kefu-eval refusal`), turns them into the probability
that the best candidate answers the question; the operating point is the probability below
which the bot refuses. Model and operating point are stored with the knowledge base.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.candidates import Candidate
from bot.answering.scale import SimilarityScale
from knowledge.catalog import Catalog
from knowledge.retriever import KEYWORD, dense_signal
from knowledge.text import tokenize, word_tokens

MODEL_FILE = "refusal.json"
# The catalog's meta key of a model fitted for its knowledge.
CATALOG_KEY = "refusal_model"
WITH_CLASSIFIER = "+classifier"  # the key suffix of a model that uses the classifier signal
E5 = dense_signal("e5")
MINILM = dense_signal("minilm")

# Names of the signals, and what a refusal blamed on a signal says.
SIGNAL_REASONS = {
    "similarity": "low_similarity",
    "similarity_en": "low_similarity",
    "margin": "close_competitor",
    "margin_en": "close_competitor",
    "keyword_coverage": "low_keyword_coverage",
    "keyword_score": "low_keyword_coverage",
    "agreement": "little_agreement",
    "classifier": "unlike_known_questions",
    "similarity_lead": "low_similarity",
    "specific_coverage": "low_keyword_coverage",
    "rank_agreement": "little_agreement",
    "standing": "low_similarity",
    "content_coverage": "low_keyword_coverage",
    "reach_agreement": "little_agreement",
    "rank_support": "little_agreement",
    "fused_lead": "close_competitor",
}
# Words that ask rather than say what is asked about: an answer never repeats them (退貨流程是
# 什麼 is answered by the steps, not by 什麼), so coverage does not count them; 媽 is the
# everyday typo of 嗎 at the end of a question.
QUESTION_WORDS = frozenset(
    (
        "什麼 甚麼 什麼樣 怎麼 怎樣 怎麼樣 怎麼辦 如何 哪裡 哪邊 哪些 哪個 哪家 為什麼 為何 "
        "是否 可以 可不可以 能 能不能 能否 有沒有 是不是 會不會 要不要 想 想要 我想 知道 "
        "一下 多少 多久 幾 幾天 幾個 呢 嘛 媽 喔 啦 耶 誰 該 應該 辦 弄 "
        "there any get need want know someth anyth much mani long way tell"
    ).split()
)
# The signals a model for every knowledge base and language uses: the ones relative to the
# other retrieved answers. Absolute similarities and keyword scores sit in different ranges on
# different knowledge (a Taipei FAQ question is .9 like any other Chinese question, a CLINC150
# utterance .9 like its paraphrases) and, with one data set left out of fitting, they made
# the model worse on it (eval/refusal.py --near-domain). "standing" (the similarity on the
# knowledge base's own scale, bot/answering/scale.py) is measured but not used: held out, it
# raised near-domain refusal but cost the demo shop's FAQ most of its answers (answered right
# .55 → .36). Coverage counts the question's own words (`content_coverage`): with the older
# `specific_coverage` a plain question lost to the character pairs that straddle its words
# (eval/refusal.py --compare-features).
GENERAL_FEATURES = ("margin", "similarity_lead", "content_coverage", "rank_agreement")


def signals(
    question: str,
    candidates: list[Candidate],
    probabilities: dict[str, float] | None = None,
    similarity_of_top: dict[str, float] | None = None,
    scale: SimilarityScale | None = None,
    language: str | None = None,
) -> dict[str, float]:
    """The refusal signals of a turn's best candidate (an empty dict when nothing was found).

    `probabilities` are the answer classifier's, when the knowledge base has one;
    `similarity_of_top` gives a dense signal's similarity for a best candidate that only the
    keyword search found (so that the signal is never simply missing); `scale` is the
    knowledge base's own similarity scale, measured at ingest (no scale: no "standing");
    `language` is the question's: a best candidate in another language shares few of its
    words by nature, so its coverage says nothing and is left out (a model reads a missing
    signal as the average)."""
    if not candidates:
        return {}
    top = candidates[0]
    others = candidates[1:]
    values: dict[str, float] = {}
    general = _general_dense(candidates)
    for name, signal in (("similarity", general), ("similarity_en", MINILM)):
        mine = _best_signal(top, signal)
        if mine is None and similarity_of_top is not None:
            mine = similarity_of_top.get(signal)
        if mine is None:
            continue
        rival = max((s for c in others if (s := _best_signal(c, signal)) is not None), default=0.0)
        values[name] = mine
        values[name.replace("similarity", "margin")] = mine - rival
        if name == "similarity":
            values["similarity_lead"] = _lead(mine, [_best_signal(c, signal) for c in others])
            if scale is not None and dense_signal(scale.embedder) == signal:
                values["standing"] = scale.standing(mine)
    asked = set(tokenize(question))
    values["keyword_coverage"] = len(asked & top.words) / len(asked) if asked else 0.0
    values["specific_coverage"] = specific_coverage(asked, top, others)
    crossed = _crosses_language(language, top)
    values["cross_language"] = 1.0 if crossed else 0.0
    # Across languages none of these says anything: the answer shares no words with the
    # question by nature, and only the multilingual model reaches it, so it is "first" in every
    # ranking that can see it (measured: off-topic English questions answered from Chinese rows
    # when the agreement of those rankings counted) and never in the others (English questions
    # whose answer is only in Chinese refused when all rankings counted: "where is my order??").
    # The model reads them as average; e5's lead and margin decide. Unless the question's words
    # reach the answer all the same, folded to one form across the languages (cancel = 取消,
    # knowledge/synonyms.py): then its coverage and the agreement of the rankings that can read
    # the answer's language say what they say in one language.
    if not crossed or _words_reach(top):
        values["rank_agreement"] = rank_agreement(candidates, reaching=crossed)
        values["content_coverage"] = content_coverage(question, top, others)
        values["reach_agreement"] = rank_agreement(candidates, reaching=True)
        values["rank_support"] = rank_support(candidates)
    values["fused_lead"] = fused_lead(candidates)
    bm25 = _best_signal(top, KEYWORD) or 0.0
    values["keyword_score"] = math.log1p(bm25 / max(len(asked), 1))
    total = sum(len(c.hits) for c in candidates)
    values["agreement"] = len(top.hits) / total if total else 0.0
    if probabilities is not None:
        values["classifier"] = probabilities.get(top.key, 0.0)
    return values


def shares_words(values: dict[str, float]) -> bool:
    """Whether the best item has some of the question's own words (content coverage above
    nothing): only then are the closest items offered below the refusal threshold. Held out on
    the demo shop, the offer band alone took 21% of far off-topic questions (a weather question
    offered the shipping rates); with this, 2.7%, and 11 of its 14 answerable questions kept."""
    return values.get("content_coverage", 0.0) > 0.0


def _lead(mine: float, rivals: list[float | None]) -> float:
    """How many standard deviations the best candidate's similarity stands above the other
    retrieved answers': dense similarities sit in different ranges on different knowledge
    (short utterances, long passages), the lead over the crowd much less so."""
    found = [r for r in rivals if r is not None]
    if len(found) < 2:
        return 0.0
    spread = float(np.std(found))
    return (mine - float(np.mean(found))) / max(spread, 0.01)


def specific_coverage(asked: set[str], top: Candidate, others: list[Candidate]) -> float:
    """Share of the question's words the best candidate has, each word weighted by how rare it
    is among the retrieved answers. A question about the knowledge's subject but not answered
    by it shares the subject's common words with every candidate ("account", "申請") and
    misses its own specific ones; an answerable question's specific words are in its answer."""
    if not asked:
        return 0.0
    pool = [top, *others]
    weights = {
        word: math.log((len(pool) + 1) / (0.5 + sum(1 for c in pool if word in c.words)))
        for word in asked
    }
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for word, w in weights.items() if word in top.words) / total


def content_coverage(question: str, top: Candidate, others: list[Candidate]) -> float:
    """`specific_coverage` over the question's own words: its words (not the pairs of
    neighbouring characters that straddle two of them, unless a retrieved answer has the pair)
    without the words that only ask (什麼, 怎麼, 多久, "how long"). 請問退貨流程是什麼 is then
    退貨 and 流程, not 貨流, 程是 and 是什 that no answer could ever cover."""
    pool = frozenset().union(top.words, *(c.words for c in others))
    words = set(word_tokens(question)) | (set(tokenize(question)) & pool)
    asked = words - QUESTION_WORDS
    return specific_coverage(asked, top, others)


def _words_reach(top: Candidate) -> bool:
    """Whether the keyword search found the best candidate: the question shares words with
    it (across languages, only through the words folded to one form)."""
    return any(KEYWORD in h.ranks for h in top.hits)


def _crosses_language(language: str | None, top: Candidate) -> bool:
    item = top.best.metadata.get("language")
    return language in ("zh", "en") and item in ("zh", "en") and item != language


def _signals_reaching(candidates: list[Candidate], any_language: bool = False) -> set[str]:
    """The retrieval signals that ranked anything in the best candidate's language (with
    `any_language`: anything at all)."""
    item = candidates[0].best.metadata.get("language")
    return {
        s
        for c in candidates
        for h in c.hits
        for s in h.ranks
        if any_language or h.metadata.get("language") in (None, "und", item)
    }


def rank_agreement(candidates: list[Candidate], reaching: bool = False) -> float:
    """Share of the retrieval signals (each dense model, BM25) that rank one of the best
    candidate's items first: an answer found first every way is rarely a lucky match. With
    `reaching`, only the signals that found anything in the best item's language count: an
    English question's MiniLM and BM25 rankings never reach a Chinese-only answer."""
    top = candidates[0]
    seen = _signals_reaching(candidates, any_language=not reaching)
    if not seen:
        return 0.0
    firsts = {s for h in top.hits for s, rank in h.ranks.items() if rank == 1}
    return len(firsts) / len(seen)


def rank_support(candidates: list[Candidate]) -> float:
    """Mean over the retrieval signals that found anything in the best item's language of
    1 / the best candidate's rank in each (0 where it is missing): `rank_agreement` without
    its cliff, so that an answer ranked first by BM25 and second by e5 is not counted as
    unsupported by e5 ("吹風機壞了保固多久": the warranty row is e5's fourth, BM25's first)."""
    top = candidates[0]
    seen = _signals_reaching(candidates)
    if not seen:
        return 0.0
    best: dict[str, int] = {}
    for h in top.hits:
        for s, rank in h.ranks.items():
            best[s] = min(rank, best.get(s, rank))
    return sum(1.0 / best[s] for s in seen if s in best) / len(seen)


def fused_lead(candidates: list[Candidate]) -> float:
    """How far the best candidate's fused score is ahead of the next different answer's,
    as a share of its own: the fusion's margin, on one scale on any knowledge."""
    top = candidates[0].score
    rival = max((c.score for c in candidates[1:]), default=0.0)
    return (top - rival) / top if top > 0 else 0.0


def _general_dense(candidates: list[Candidate]) -> str:
    """The dense signal behind "similarity": e5, else the model a user brought (any dense
    signal but the English-only MiniLM), so that the signal exists with custom models too."""
    seen = {s for c in candidates for h in c.hits for s in h.scores if s.startswith("dense:")}
    if E5 in seen or not (seen - {MINILM}):
        return E5
    return sorted(seen - {MINILM})[0]


def _best_signal(candidate: Candidate, signal: str) -> float | None:
    found = [h.scores[signal] for h in candidate.hits if signal in h.scores]
    return max(found) if found else None


@dataclass
class LanguageModel:
    """A logistic model over standardised signals, for the questions of one language."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float  # refuse when the probability is below this
    fitted_on: str = ""
    # Answer outright from this probability on; between `threshold` and this the bot offers
    # its closest item and a person instead (None: no such band, answer from `threshold`).
    confident: float | None = None
    # From this probability up to `threshold` the bot does not refuse flatly: it offers its
    # closest items to pick from, and a person (None: it refuses below `threshold`).
    offer: float | None = None
    measured: dict[str, Any] = field(default_factory=dict)  # figures at the operating point

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept
        for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += c * (values.get(name, m) - m) / s
        return 1.0 / (1.0 + math.exp(-z))

    def weakest(self, values: dict[str, float]) -> str:
        """The signal that pulled the probability down the most: the reason of a refusal."""
        pulls = {
            name: c * (values.get(name, m) - m) / s
            for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        }
        return min(pulls, key=lambda n: pulls[n])


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    probability: float
    # "confident", "unsure", "no_hit", or the signal that refused ("low_similarity", ...)
    reason: str
    signals: dict[str, float]
    # Not answerable, yet close enough that the closest items are offered to pick from rather
    # than a flat refusal (the band's lower part).
    offer: bool = False

    @property
    def unsure(self) -> bool:
        """Not refused, yet not sure enough to answer outright: the middle band."""
        return self.answerable and self.reason == "unsure"


@dataclass
class RefusalModel:
    languages: dict[str, LanguageModel]

    def judge(self, language: str, values: dict[str, float]) -> Verdict:
        if not values:
            return Verdict(False, 0.0, "no_hit", values)
        model = self.model_for(language, values)
        p = model.probability(values)
        if p >= max(model.threshold, model.confident or 0.0):
            return Verdict(True, p, "confident", values)
        if p >= model.threshold:
            return Verdict(True, p, "unsure", values)
        return Verdict(
            False,
            p,
            SIGNAL_REASONS.get(model.weakest(values), "low_confidence"),
            values,
            offer=model.offer is not None and p >= model.offer and shares_words(values),
        )

    def model_for(self, language: str, values: dict[str, float]) -> LanguageModel:
        """The language's model fitted with the answer classifier when its signal is there
        ("en+classifier"), else the language's model without it, else any."""
        if "classifier" in values and f"{language}{WITH_CLASSIFIER}" in self.languages:
            return self.languages[f"{language}{WITH_CLASSIFIER}"]
        if language in self.languages:
            return self.languages[language]
        plain = [m for name, m in self.languages.items() if WITH_CLASSIFIER not in name]
        return plain[0] if plain else next(iter(self.languages.values()))

    def to_json(self) -> str:
        return json.dumps(
            {lang: asdict(m) for lang, m in self.languages.items()}, ensure_ascii=False, indent=2
        )

    @classmethod
    def from_json(cls, text: str) -> RefusalModel:
        data = json.loads(text)
        return cls({lang: LanguageModel(**m) for lang, m in data.items()})

    def save(self, data_dir: Path) -> Path:
        path = data_dir / MODEL_FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, data_dir: Path | None, catalog: Catalog | None = None) -> RefusalModel:
        """The model fitted for this knowledge base, else the one fitted on the public sets.

        A fitted model belongs with the knowledge, so it is kept in the catalog, which every
        worker on the shared database reads. The file `kefu-eval refusal --save` writes into a
        data directory is what an operator put there: a worker that finds it keeps it in the
        catalog (replacing what was there), so the others use it from their next start."""
        path = data_dir / MODEL_FILE if data_dir is not None else None
        if path is not None and path.is_file():
            text = path.read_text(encoding="utf-8")
            model = cls.from_json(text)
            if catalog is not None and catalog.meta(CATALOG_KEY) != text:
                catalog.set_meta(CATALOG_KEY, text)
            return model
        kept = catalog.meta(CATALOG_KEY) if catalog is not None else None
        if kept is not None:
            return cls.from_json(kept)
        return cls.from_json(files("bot.answering").joinpath(MODEL_FILE).read_text("utf-8"))
