"""Handoff gate: fit the negativity model and measure the gate on data it was not fitted on.

    python -m eval.gate [--fit] [--data-root DIR]

The negativity model (handoff.sentiment) is a logistic regression over e5 query vectors and
lexical features (capitals, "!", "??!", insults, share of Chinese characters, a grievance that
has lasted, sarcasm, courtesy, a demand, blame aimed at the company, contempt, escalation),
fitted on the data sets of eval/gate_corpora.py: calm customer
language full of complaint words against real anger at companies. Every set weighs the same in
the fit, whatever its size. Courtesy is never let raise the score: a fit that gives it a
positive weight is redone without it.

Two operating points are placed on the fitted sets' calm customer messages (CALM_SETS), scored
by the fitted model (or, with THRESHOLDS_OUT_OF_FOLD, each set by a model fitted without it), in
the worst case over those sets: `threshold` (angry: hand off at once) flags at most
STRONG_CALM_RATE of any of them, `mild_threshold` (upset: acknowledge, answer, offer a person;
hand off if the bot cannot help) at most MILD_CALM_RATE.

Leave one set out: each set is measured with a model fitted, and thresholds placed, on the
other sets only (a set and its translation, GROUPS, are held out together); the written test
sets (eval/data/gate_calm.txt, gate_angry.txt) are never fitted on and are measured with the
model fitted on everything (the one kefu ships with `--fit`). The report gives, per set and per
language (mean and worst): calm messages the gate hands off before answering and calm messages
it would treat as upset; angry messages handed off at once and angry messages at least treated
as upset. The gate is run whole (`Gate.before_answer`): explicit requests, sensitive topics,
several questions and length count as they do in a conversation. Then explicit requests for a
person (the written phrasings, and Bitext's `contact_human_agent` utterances against its other
intents) and rephrasing.

Vectors are cached under eval/.cache/gate: a first run embeds about 16,000 texts (about 15
minutes on two cores), a refit from the cache takes about a minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from eval.datasets import default_root
from eval.gate_corpora import (
    DATA_DIR,
    GENERAL_SETS,
    GROUPS,
    GateSet,
    bitext_person_requests,
    language_of,
    load_sets,
    project_lines,
)
from handoff.gate import Gate
from handoff.sentiment import (
    LEXICAL,
    SentimentModel,
    SentimentWeights,
    cue_grams,
    lexical_features,
    plain,
    prepared,
    shipped_weights_path,
)
from handoff.settings import GateSettings
from knowledge.embedding import E5Embedder, Embedder

log = logging.getLogger(__name__)
EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = EVAL_DIR / ".cache" / "gate"
DEFAULT_RESULTS = EVAL_DIR / "results"
CACHE_CHUNK = 1024
# The sets of calm customer messages the thresholds are placed on (worst case over them):
# requests to a company, not product reviews or tweets to friends.
CALM_SETS = ("bitext", "clinc150", "jddc", "taipei_faq", "crosswoz")
# The calm side of the report: customers writing to a company (the calm of GoEmotions, SemEval
# and the reviews is people not angry at anyone, often sad or scared; shown per set only).
CUSTOMER_CALM_SETS = (*CALM_SETS, "complaint_tweets")
# Sets of people who are not writing to a company (GENERAL_SETS) weigh this much of a set.
GENERAL_WEIGHT = 0.5
STRONG_CALM_RATE = 0.01
MILD_CALM_RATE = 0.04
TARGETS = {"calm_handoff": 0.02, "angry_handoff": 0.80, "explicit_recall": 1.0}
C = 1.0
# Thresholds placed on each calm set's scores by a model fitted without that set (out of fold)
# rather than by the model fitted on it. Off: held out, calm handoffs fell (zh worst JDDC 9.9 %
# → 4.1 %, en mean 4.5 % → 3.2 %) but angry messages handed off at once fell further (zh worst
# 45.0 % → 28.1 %, en worst 55.9 % → 38.5 %): the in-sample thresholds were optimistic, and
# the model separates calm from angry too little for honest ones to keep the anger.
THRESHOLDS_OUT_OF_FOLD = False
# Learned cues: an n-gram is a candidate when the angry messages of this many training sets
# use it (0: no cues); cues whose weight ends below CUE_MIN are not kept. CUE_SCALE is the
# cue columns' scale beside the unit vector (a larger scale: a weaker penalty on them).
# Off: with cues (CUE_SETS 2, CUE_SCALE 1, 0.3 or 0.1) held-out anger was found more often
# (stc3_en 55 % → 78-82 %), but calm chat turns handed off rose on the held-out set (jddc
# 10 % → 28-39 %): the fit separates its own calm sets too well and the thresholds placed on
# them fall.
CUE_SETS = 0
CUE_SCALE = 1.0
CUE_MIN = 0.05
# Tried and left out: taking the leading directions along which the training sets' calm
# centroids differ (bank questions, shop chats, tweets: calm, yet far apart in e5) out of the
# vectors before the fit. Held out, 2 directions: zh calm worst JDDC 10.5 % → 8.8 % but en worst
# 6.7 % → 8.7 % and en angry mean 63.2 % → 57.2 %; 6 directions: zh calm 3.9 % → 2.5 % mean,
# en calm worst → 10.6 %, en angry → 57.0 %. What tells one kind of text from another also
# carries part of what tells anger.


# ---- embedding cache ----------------------------------------------------------------------------


def embed_cached(
    embedder: Embedder, texts: Sequence[str], cache: Path = DEFAULT_CACHE
) -> np.ndarray:
    """Query vectors of `texts`, computed in chunks that are cached by content, so that an
    interrupted run resumes and a refit costs no embedding."""

    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    started = time.perf_counter()
    for i in range(0, len(texts), CACHE_CHUNK):
        chunk = [prepared(t) for t in texts[i : i + CACHE_CHUNK]]
        key = hashlib.sha1("\n\x00".join([embedder.name, *chunk]).encode()).hexdigest()[:16]
        path = cache / f"{embedder.name}-{key}.npy"
        if path.is_file():
            parts.append(np.load(path))
            continue
        vectors = _embed_fast(embedder, chunk)
        np.save(path, vectors)
        parts.append(vectors)
        log.info(
            "embedded %d/%d texts (%.0f s)",
            min(i + CACHE_CHUNK, len(texts)),
            len(texts),
            time.perf_counter() - started,
        )
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.vstack(parts)


def _embed_fast(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """e5's batched call gives the same vectors as `embed_queries` (one text at a time) in half
    the time; any other embedder goes through the protocol."""
    if isinstance(embedder, E5Embedder):
        vectors = np.asarray(embedder._engine().query(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return embedder.embed_queries(texts)


class Precomputed:
    """An embedder that answers from vectors computed earlier (the evaluation's cache) and asks
    the real one for anything else, so the gate is measured exactly as it runs."""

    def __init__(self, embedder: Embedder, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.name = embedder.name
        self.languages = embedder.languages
        self.dim = embedder.dim
        self._embedder = embedder
        self._known = {prepared(t): v for t, v in zip(texts, vectors, strict=True)}

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embedder.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._known]
        if missing:
            self._known.update(zip(missing, self._embedder.embed_queries(missing), strict=True))
        return np.vstack([self._known[t] for t in texts])


# ---- fitting ------------------------------------------------------------------------------------


@dataclass
class Embedded:
    """A data set with its vectors."""

    set: GateSet
    vectors: np.ndarray

    @property
    def name(self) -> str:
        return self.set.name

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.set.rows]

    @property
    def negative(self) -> np.ndarray:
        return np.array([r.negative for r in self.set.rows], dtype=bool)

    def features(self) -> np.ndarray:
        """The vector and the lexical features of each text, as the model reads them."""
        lexical = np.array([lexical_features(plain(t)) for t in self.texts], dtype=np.float32)
        return np.hstack([self.vectors, lexical.reshape(len(self.texts), len(LEXICAL))])


def embed_sets(sets: Sequence[GateSet], embedder: Embedder, cache: Path) -> list[Embedded]:
    return [Embedded(s, embed_cached(embedder, [r.text for r in s.rows], cache)) for s in sets]


def candidate_cues(train: Sequence[Embedded]) -> list[str]:
    """The n-grams (handoff.sentiment.cue_grams) that the angry messages of at least CUE_SETS
    training sets use, each at least twice: the words of anger that hold across sources,
    not one set's topic (a telecom's name, a product)."""
    found: Counter[str] = Counter()
    for e in train:
        counts: Counter[str] = Counter()
        for text, negative in zip(e.texts, e.negative, strict=True):
            if negative:
                counts.update(cue_grams(text))
        found.update(g for g, n in counts.items() if n >= 2 and g.strip())
    return sorted(g for g, n in found.items() if n >= CUE_SETS)


def cue_matrix(texts: Sequence[str], vocabulary: Sequence[str]) -> Any:
    """Which of the cues each text holds (a sparse 0/1 matrix, texts × cues)."""
    from scipy import sparse

    index = {g: i for i, g in enumerate(vocabulary)}
    rows, cols = [], []
    for r, text in enumerate(texts):
        for g in cue_grams(text):
            if g in index:
                rows.append(r)
                cols.append(index[g])
    return sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocabulary))
    )


def fit_weights(train: Sequence[Embedded], c: float = C) -> SentimentWeights:
    """Logistic regression over the sets, each weighing the same in all; thresholds placed on
    the calm customer sets among them (scored out of fold with THRESHOLDS_OUT_OF_FOLD)."""
    weights = fit_model(train, c)
    weights.threshold, weights.mild_threshold = choose_thresholds(calm_scores(weights, train, c))
    weights.fitted_on["thresholds_out_of_fold"] = THRESHOLDS_OUT_OF_FOLD
    return weights


def fit_model(train: Sequence[Embedded], c: float = C) -> SentimentWeights:
    """The logistic regression alone (thresholds left at 0.5 / 1.0)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    dense = np.vstack([e.features() for e in train])
    vocabulary = candidate_cues(train) if CUE_SETS else []
    cues = cue_matrix([t for e in train for t in e.texts], vocabulary)
    y = np.concatenate([e.negative for e in train])
    mean_size = float(np.mean([len(e.texts) for e in train]))
    weight = np.concatenate(
        [
            np.full(
                len(e.texts),
                mean_size / len(e.texts) * (GENERAL_WEIGHT if e.name in GENERAL_SETS else 1.0),
            )
            for e in train
        ]
    )

    def fitted() -> Any:
        x = sparse.hstack([sparse.csr_matrix(dense), cues * CUE_SCALE]).tocsr()
        return LogisticRegression(C=c, max_iter=3000).fit(x, y, sample_weight=weight)

    model = fitted()
    width = dense.shape[1]
    courtesy = width - len(LEXICAL) + LEXICAL.index("courtesy")
    if model.coef_[0][courtesy] > 0:
        # Courtesy must never make a customer look angrier: fitted without it instead.
        dense[:, courtesy] = 0.0
        model = fitted()
    coef = model.coef_[0]
    return SentimentWeights(
        embedder="e5",
        coef=[float(v) for v in coef[: width - len(LEXICAL)]],
        intercept=float(model.intercept_[0]),
        lexical=list(LEXICAL),
        lexical_coef=[float(v) for v in coef[width - len(LEXICAL) : width]],
        threshold=0.5,
        cues={
            g: float(v) * CUE_SCALE
            for g, v in zip(vocabulary, coef[width:], strict=True)
            if abs(v * CUE_SCALE) >= CUE_MIN
        },
        fitted_on={
            "sets": {e.name: [len(e.set.calm), len(e.set.angry)] for e in train},
            "C": c,
            "cue_sets": CUE_SETS,
            "cue_candidates": len(vocabulary),
            "thresholds_on": [e.name for e in train if e.name in CALM_SETS],
            "strong_calm_rate": STRONG_CALM_RATE,
            "mild_calm_rate": MILD_CALM_RATE,
            "command": "kefu-eval gate --fit",
        },
    )


def scores(weights: SentimentWeights, embedded: Embedded) -> np.ndarray:
    z = embedded.features() @ np.asarray(weights.coef + weights.lexical_coef) + weights.intercept
    if weights.cues:
        values = np.asarray(list(weights.cues.values()), dtype=np.float32)
        z = z + cue_matrix(embedded.texts, list(weights.cues)) @ values
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def calm_scores(
    weights: SentimentWeights, train: Sequence[Embedded], c: float = C
) -> list[np.ndarray]:
    """The scores of the calm messages of each calm customer set among `train`. Out of fold,
    each set is scored by a model fitted on the other sets, as a customer's new message is: a
    model scores the calm messages it was fitted on lower than anyone else's, and thresholds
    placed on those hand off more calm messages of a set it never saw."""
    calm = [e for e in train if e.name in CALM_SETS]
    if not THRESHOLDS_OUT_OF_FOLD:
        return [scores(weights, e)[~e.negative] for e in calm]
    found = []
    for e in calm:
        others = fitted_without(train, e)
        if not any(o.negative.any() for o in others) or all(o.negative.all() for o in others):
            found.append(scores(weights, e)[~e.negative])  # nothing to fit without it
            continue
        found.append(scores(fit_model(others, c), e)[~e.negative])
    return found


def choose_thresholds(calm: Sequence[np.ndarray]) -> tuple[float, float]:
    """The lowest thresholds at which no calm customer set has more than STRONG_CALM_RATE
    (angry) and MILD_CALM_RATE (upset) of its messages' scores above them."""
    grid = [t / 100 for t in range(5, 100)]

    def lowest(rate: float) -> float:
        return next(
            (t for t in grid if max(float((s >= t).mean()) for s in calm) <= rate), grid[-1]
        )

    return lowest(STRONG_CALM_RATE), lowest(MILD_CALM_RATE)


# ---- measuring ----------------------------------------------------------------------------------


def measure_set(weights: SentimentWeights, embedded: Embedded, embedder: Embedder) -> dict:
    """The whole gate before answering, over one set's calm and angry messages."""
    known = Precomputed(embedder, embedded.texts, embedded.vectors)
    gate = Gate(GateSettings(), SentimentModel(known, weights), known)
    calm: list[tuple[str, str | None, str]] = []
    angry: list[tuple[str, str | None, str]] = []
    for row in embedded.set.rows:
        verdict = gate.before_answer(row.text, language_of(row.text), [])
        (angry if row.negative else calm).append((row.text, verdict.trigger, verdict.mood))
    found: dict[str, Any] = {"set": embedded.name, "language": embedded.set.language}
    for name, rows in (("calm", calm), ("angry", angry)):
        if not rows:
            found[name] = None
            continue
        handed = [r for r in rows if r[1] is not None]
        upset = [r for r in rows if r[1] is None and r[2] == "upset"]
        found[name] = {
            "n": len(rows),
            "handed_off": round(len(handed) / len(rows), 4),
            "upset": round(len(upset) / len(rows), 4),
            "handed_off_or_upset": round((len(handed) + len(upset)) / len(rows), 4),
            "by_negativity": round(sum(r[1] == "negative_sentiment" for r in rows) / len(rows), 4),
            "by_trigger": dict(Counter(r[1] for r in handed).most_common()),
            "examples": _examples(handed if name == "calm" else [r for r in rows if r[1] is None]),
        }
    return found


def _examples(rows: list[tuple[str, str | None, str]], n: int = 8) -> list[list[Any]]:
    step = max(len(rows) // n, 1)
    return [[t[:140], trig, mood] for t, trig, mood in rows[::step][:n]]


def fitted_without(fittable: Sequence[Embedded], held: Embedded) -> list[Embedded]:
    """The sets a held-out set's model is fitted on: every other set outside its group."""
    group = GROUPS.get(held.name, held.name)
    return [e for e in fittable if GROUPS.get(e.name, e.name) != group]


def leave_one_out(embedded: Sequence[Embedded], embedder: Embedder) -> list[dict]:
    """Each fittable set measured with a model fitted on the others (not on the other half of
    its group either); the test-only sets with the model fitted on every fittable set."""
    fittable = [e for e in embedded if e.set.fit]
    rows = []
    for held in fittable:
        weights = fit_weights(fitted_without(fittable, held))
        found = measure_set(weights, held, embedder)
        found["thresholds"] = [weights.threshold, weights.mild_threshold]
        rows.append(found)
        log.info("held out %s: %s", held.name, {k: found[k] for k in ("calm", "angry")})
    return rows


def summarise(
    rows: Sequence[dict], calm_from: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per language: the mean and the worst set for calm handoffs (over the sets `calm_from`,
    else every set) and angry handoffs."""
    out: dict[str, dict[str, Any]] = {}
    for language in ("zh", "en"):
        mine = [r for r in rows if r["language"] == language]
        calm_rows = [r for r in mine if r["calm"] and (calm_from is None or r["set"] in calm_from)]
        calm = [(r["set"], r["calm"]["handed_off"]) for r in calm_rows]
        calm_mood = [(r["set"], r["calm"].get("by_negativity", 0.0)) for r in calm_rows]
        angry = [(r["set"], r["angry"]["handed_off"]) for r in mine if r["angry"]]
        angry_any = [(r["set"], r["angry"]["handed_off_or_upset"]) for r in mine if r["angry"]]
        out[language] = {
            "calm_handed_off_mean": round(float(np.mean([v for _, v in calm])), 4),
            "calm_handed_off_worst": max(calm, key=lambda p: p[1]),
            "calm_by_negativity_mean": round(float(np.mean([v for _, v in calm_mood])), 4),
            "calm_by_negativity_worst": max(calm_mood, key=lambda p: p[1]),
            "angry_handed_off_mean": round(float(np.mean([v for _, v in angry])), 4),
            "angry_handed_off_worst": min(angry, key=lambda p: p[1]),
            "angry_upset_or_handed_off_mean": round(float(np.mean([v for _, v in angry_any])), 4),
            "angry_upset_or_handed_off_worst": min(angry_any, key=lambda p: p[1]),
        }
    return out


def measure_requests(gate: Gate, root: Path) -> dict[str, Any]:
    """Recall on asking for a person and false positives on near misses: the written lists,
    and Bitext's contact_human_agent utterances against its other intents."""
    found: dict[str, Any] = {}
    bitext_asked, bitext_other = bitext_person_requests(root)
    for name, asked, near in (
        (
            "written",
            project_lines("explicit_requests.txt"),
            project_lines("explicit_near_misses.txt"),
        ),
        ("bitext", bitext_asked, bitext_other),
    ):
        missed = [t for t in asked if gate.requests.find(t) is None]
        false = [(t, gate.requests.find(t)) for t in near if gate.requests.find(t) is not None]
        found[name] = {
            "phrasings": len(asked),
            "recall": round(1 - len(missed) / len(asked), 4),
            "missed": missed[:40],
            "near_misses": len(near),
            "false_positive_rate": round(len(false) / len(near), 4),
            "false_positives": false[:40],
        }
    return found


def measure_rephrasing(embedder: Embedder, threshold: float) -> dict[str, Any]:
    """Cosine of the written pairs: the same question asked again against a follow-up."""
    rows = [
        line.split("\t")
        for line in (DATA_DIR / "rephrase_pairs.tsv").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    first = embedder.embed_queries([prepared(r[0]) for r in rows])
    second = embedder.embed_queries([prepared(r[1]) for r in rows])
    similarity = (first * second).sum(axis=1)
    same = np.array([r[2].strip() == "1" for r in rows])
    curve = [
        {
            "threshold": t,
            "recall": round(float((similarity[same] >= t).mean()), 4),
            "false_positive_rate": round(float((similarity[~same] >= t).mean()), 4),
        }
        for t in (0.86, 0.88, 0.89, 0.90, 0.91, 0.92, 0.93, 0.94)
    ]
    at = next((p for p in curve if p["threshold"] == threshold), None)
    return {"pairs": len(rows), "same": int(same.sum()), "at_threshold": at, "curve": curve}


def evaluate(
    root: Path, cache: Path, fit: bool, weights_path: Path | None = None
) -> tuple[dict[str, Any], SentimentWeights | None]:
    embedder = E5Embedder()
    started = time.perf_counter()
    embedded = embed_sets(load_sets(root), embedder, cache)
    results: dict[str, Any] = {"embedding_seconds": round(time.perf_counter() - started, 1)}
    started = time.perf_counter()
    held_out = leave_one_out(embedded, embedder)
    fittable = [e for e in embedded if e.set.fit]
    if fit:
        weights = fit_weights(fittable)
        fitted: SentimentWeights | None = weights
    else:
        weights = SentimentModel.load(embedder, weights_path).weights
        fitted = None
    tested = [measure_set(weights, e, embedder) for e in embedded if not e.set.fit]
    results["fit_seconds"] = round(time.perf_counter() - started, 1)
    results["thresholds"] = {"angry": weights.threshold, "upset": weights.mild_threshold}
    results["held_out"] = held_out
    results["written"] = tested
    results["summary"] = summarise(
        [r for r in held_out if r["set"] != "customer_lines"], CUSTOMER_CALM_SETS
    )
    results["summary_written"] = summarise(tested)
    gate = Gate(GateSettings(), None)
    results["explicit_requests"] = measure_requests(gate, root)
    results["rephrasing"] = measure_rephrasing(embedder, GateSettings().rephrase_similarity)
    results["targets"] = TARGETS
    if fitted is not None:
        fitted.measured = {
            "held_out": results["summary"],
            "written": results["summary_written"],
        }
    return results, fitted


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def table(results: dict[str, Any]) -> Table:
    th = results["thresholds"]
    t = Table(
        title=f"Handoff gate, each set held out (angry ≥ {th['angry']}, upset ≥ {th['upset']})"
    )
    for col in (
        "set",
        "lang",
        "calm n",
        "calm handed off",
        "calm upset",
        "angry n",
        "angry handed off",
        "angry upset or handed off",
    ):
        t.add_column(col, justify="left" if col in ("set", "lang") else "right")
    for row in [*results["held_out"], *results["written"]]:
        calm, angry = row["calm"] or {}, row["angry"] or {}
        t.add_row(
            row["set"],
            row["language"],
            str(calm.get("n", "–")),
            _pct(calm.get("handed_off")),
            _pct(calm.get("upset")),
            str(angry.get("n", "–")),
            _pct(angry.get("handed_off")),
            _pct(angry.get("handed_off_or_upset")),
        )
    return t


def summary_table(results: dict[str, Any]) -> Table:
    t = Table(
        title="Per language: held-out public sets, mean / worst (calm: customers writing to a "
        "company), and the written sets"
    )
    for col in ("measure", "zh", "en", "target"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    s, w = results["summary"], results["summary_written"]

    def both(key: str) -> list[str]:
        return [
            f"{s[lang][key + '_mean']:.1%} / {s[lang][key + '_worst'][1]:.1%} "
            f"({s[lang][key + '_worst'][0]}) · written {w[lang][key + '_mean']:.1%}"
            for lang in ("zh", "en")
        ]

    t.add_row("calm handed off", *both("calm_handed_off"), f"≤ {TARGETS['calm_handoff']:.0%}")
    t.add_row("calm handed off as angry", *both("calm_by_negativity"), "")
    t.add_row("angry handed off", *both("angry_handed_off"), f"≥ {TARGETS['angry_handoff']:.0%}")
    t.add_row("angry upset or handed off", *both("angry_upset_or_handed_off"), "")
    for name, r in results["explicit_requests"].items():
        t.add_row(
            f"explicit requests ({name}: {r['phrasings']} / {r['near_misses']} near misses)",
            f"recall {r['recall']:.1%}",
            f"false pos. {r['false_positive_rate']:.1%}",
            "100%",
        )
    at = results["rephrasing"]["at_threshold"]
    if at:
        t.add_row(
            f"rephrase recall / false pos. @ {at['threshold']}",
            f"{at['recall']:.0%}",
            f"{at['false_positive_rate']:.0%}",
            "",
        )
    return t


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--fit",
        action="store_true",
        help="refit the negativity model on every set and write it as kefu's shipped weights",
    )
    parser.add_argument("--weights", type=Path, default=None, help="measure these weights")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = args.data_root or default_root()
    results, fitted = evaluate(root, args.cache_dir, args.fit, args.weights)
    if fitted is not None:
        path = shipped_weights_path()
        path.write_text(fitted.to_json(), encoding="utf-8")
        results["written_to"] = str(path)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "gate.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    console = Console(width=160)
    console.print(table(results))
    console.print(summary_table(results))
    for name, r in results["explicit_requests"].items():
        if r["missed"]:
            console.print(f"missed requests ({name}): {r['missed'][:15]}")
        if r["false_positives"]:
            console.print(f"false requests ({name}): {r['false_positives'][:15]}")
    console.print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
