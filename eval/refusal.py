"""Refusal calibration: fit the "not in the knowledge base" model and measure it.

For each data set, the knowledge base is built (and cached) from its items; questions that
the knowledge base answers and questions it cannot answer are split into a fitting half and a
test half. On the fitting half the turn's refusal signals (bot.answering.refusal) are
collected through the real answerer, a logistic model is fitted per language and its operating
point is chosen; on the test half the real answerer then decides every question, and the
report gives in-scope accuracy, out-of-scope recall, the clarifying rate and the full curve.

    python -m eval.refusal --dataset clinc150 --dataset taipei_faq [--save-default] [--limit N]
    python -m eval.refusal --place-offer --limit 300 [--save-default]

- clinc150: knowledge = the 15,000 train utterances (answer = intent); fit on val + oos_val,
  test on test + oos_test.
- taipei_faq: knowledge = the Taipei City FAQ as a question/answer sheet; its own questions
  must be answered, crosswoz_utterances and smp2017_ecdt `chat` lines refused; each split
  in half at random (seed 13) for fitting and testing.
- drcd: knowledge = DRCD paragraphs as passages, asked in other words by its questions;
  the same off-topic lines refused. Data sets of one language are fitted together (one zh
  model from taipei_faq and drcd) and tested apart.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bot.answering.answerer import CLOSEST_MATCH, Answerer, AnswerPolicy
from bot.answering.classifier import AnswerClassifier, ClassifierSlot, fit_answer_classifier
from bot.answering.language import CustomerLanguage, detect_customer_language
from bot.answering.refusal import (
    GENERAL_FEATURES,
    WITH_CLASSIFIER,
    LanguageModel,
    RefusalModel,
    shares_words,
)
from bot.answering.scale import refresh_scale
from bot.conversation.events import Decision
from eval.datasets import (
    EvalSet,
    _load_chunks,
    _row_of,
    _write_xlsx,
    default_root,
)
from eval.datasets import clinc150 as clinc150_items
from eval.datasets import drcd as drcd_items
from eval.datasets import shop as shop_items
from eval.datasets import stackfaq as stackfaq_items
from eval.retrieval import DEFAULT_CACHE, DEFAULT_RESULTS, build_kb, default_embedders
from ingest.model import Chunk
from knowledge.retriever import HybridRetriever, RetrievalConfig

log = logging.getLogger(__name__)
SEED = 13
TARGETS = {"clinc150": {"in_scope_accuracy": 0.90, "out_of_scope_recall": 0.90}}


@dataclass(frozen=True)
class Probe:
    text: str
    gold: frozenset[str] | None  # labels of the items that answer it; None = must be refused


@dataclass
class RefusalSet:
    name: str
    language: CustomerLanguage
    chunks: list[Chunk]
    fit: list[Probe]
    test: list[Probe]
    notes: dict[str, Any] = field(default_factory=dict)
    cache_name: str = ""  # the knowledge base's folder in the eval cache (default refusal-<name>)


def clinc150(root: Path) -> RefusalSet:
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    items = clinc150_items(root)

    def probes(inscope: str, oos: str) -> list[Probe]:
        return [Probe(t, frozenset({i})) for t, i in data[inscope]] + [
            Probe(t, None) for t, _ in data[oos]
        ]

    # The refusal model may learn from CLINC150's own out-of-scope training questions too.
    fitting = probes("val", "oos_val") + [Probe(t, None) for t, _ in data["oos_train"]]
    return RefusalSet("clinc150", "en", items.chunks, fitting, probes("test", "oos_test"))


def taipei_faq(root: Path) -> RefusalSet:
    lines = (root / "taipei_faq" / "taipei_faq.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    kept = [
        r
        for r in records
        if (r.get("question") or "").strip() and len((r.get("answer") or "").strip()) >= 2
    ]
    rows = [
        (r["question"].strip(), r["answer"].strip(), (r.get("dept") or "").strip()) for r in kept
    ]
    with tempfile.TemporaryDirectory(prefix="kefu-eval-refusal-") as tmp:
        path = Path(tmp) / "taipei_faq_qa.xlsx"
        _write_xlsx(path, ("問題", "答案", "機關"), rows)
        loaded, _ = _load_chunks(path, "taipei_faq_qa")
    chunks = []
    for c in loaded:
        index = _row_of(c.locator) - 2
        chunks.append(replace(c, metadata={**c.metadata, "label": str(kept[index]["id"])}))
    # A question asked by several rows (same text) is answered by any of them.
    by_question: dict[str, set[str]] = {}
    for r in kept:
        by_question.setdefault(r["question"].strip(), set()).add(str(r["id"]))
    answerable = [Probe(q, frozenset(ids)) for q, ids in by_question.items()]
    outside = [
        Probe(t, None)
        for t in _lines(root / "crosswoz_utterances") + _smp_chat(root / "smp2017_ecdt")
    ]
    rng = random.Random(SEED)
    rng.shuffle(answerable)
    rng.shuffle(outside)
    outside = outside[: 2 * len(answerable)]  # enough to measure, not 9,000 more turns
    half_a, half_o = len(answerable) // 2, len(outside) // 2
    notes = {"answerable": len(answerable), "outside": len(outside), "rows": len(kept)}
    return RefusalSet(
        "taipei_faq",
        "zh",
        chunks,
        answerable[:half_a] + outside[:half_o],
        answerable[half_a:] + outside[half_o:],
        notes,
    )


def _lines(folder: Path) -> list[str]:
    """Utterances of crosswoz_utterances (one per line, or a `text` column)."""
    texts: list[str] = []
    for path in sorted(folder.glob("*.zh-TW.*")) or sorted(folder.glob("*.txt")):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8") as fh:
                texts += [row["text"].strip() for row in csv.DictReader(fh) if row.get("text")]
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    value = json.loads(line)
                    texts.append(value["text"] if isinstance(value, dict) else str(value))
        else:
            texts += [t.strip() for t in path.read_text(encoding="utf-8").splitlines()]
    return [t for t in texts if t]


def _smp_chat(folder: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8") as fh:
            texts += [r["text"].strip() for r in csv.DictReader(fh) if r.get("intent") == "chat"]
    return [t for t in texts if t]


def drcd(root: Path) -> RefusalSet:
    """Passages (DRCD paragraphs chunked as a PDF page would be) asked in other words than
    theirs: the Chinese counterpart of CLINC150's paraphrases, which Taipei's verbatim
    questions are not. Off-topic: the same travel and small-talk lines as taipei_faq."""
    items = drcd_items(root)
    answerable = [Probe(q.text, q.gold) for q in items.queries]
    outside = [
        Probe(t, None)
        for t in _lines(root / "crosswoz_utterances") + _smp_chat(root / "smp2017_ecdt")
    ]
    rng = random.Random(SEED + 1)
    rng.shuffle(answerable)
    rng.shuffle(outside)
    outside = outside[: len(answerable)]  # as many off-topic lines as questions
    half_a, half_o = len(answerable) // 2, len(outside) // 2
    return RefusalSet(
        "drcd",
        "zh",
        items.chunks,
        answerable[:half_a] + outside[:half_o],
        answerable[half_a:] + outside[half_o:],
        {"answerable": len(answerable), "outside": len(outside)},
        cache_name="drcd",  # the same knowledge base as the retrieval evaluation's
    )


SETS = {"clinc150": clinc150, "taipei_faq": taipei_faq, "drcd": drcd}


# ---- near-domain sets ---------------------------------------------------------------------------

HELD_OUT = 0.25  # share of a data set's items taken out of its knowledge base
ANSWERABLE, NEAR, FAR = "answerable", "near", "far"
FAR_LINES = 1000
# Stored signals of an older recipe are collected again.
SIGNALS_VERSION = "content coverage, reach agreement, rank support, fused lead"


@dataclass
class NearSet:
    """A knowledge base missing a seeded quarter of its items, and three kinds of questions:
    answerable (their item is there), near (their item was taken out: same subject, answer
    not present) and far (off-topic lines from another data set)."""

    name: str
    language: CustomerLanguage
    chunks: list[Chunk]  # the kept items only
    probes: dict[str, list[Probe]]  # kind → questions
    notes: dict[str, Any] = field(default_factory=dict)
    # Questions in both languages (the demo shop's): each is asked in the language it is
    # written in, as the bot detects it, not in the set's.
    mixed: bool = False

    def capped(self, limit: int | None) -> NearSet:
        if not limit:
            return self
        rng = random.Random(SEED)
        probes = {k: rng.sample(v, min(limit, len(v))) for k, v in self.probes.items()}
        return replace(self, probes=probes)


def _held_out(labels: Sequence[str], seed_name: str) -> set[str]:
    """A seeded quarter of the labels (sorted first, so the choice never depends on order)."""
    ordered = sorted(set(labels))
    rng = random.Random(f"{SEED}-{seed_name}")
    return set(rng.sample(ordered, round(HELD_OUT * len(ordered))))


def _split(
    name: str,
    language: CustomerLanguage,
    chunks: list[Chunk],
    questions: list[Probe],
    far: list[str],
    notes: dict[str, Any],
    eligible: set[str] | None = None,
) -> NearSet:
    """Take a quarter of the labels (of the `eligible` ones, when given) out: their chunks
    leave the knowledge base and the questions whose every gold label left become near-domain
    questions."""
    labels = [str(c.metadata["label"]) for c in chunks]
    gone = _held_out([lb for lb in labels if eligible is None or lb in eligible], name)
    kept = [c for c in chunks if str(c.metadata["label"]) not in gone]
    answerable, near = [], []
    for probe in questions:
        gold = frozenset(probe.gold or ()) - gone
        if gold:
            answerable.append(Probe(probe.text, gold))
        else:
            near.append(Probe(probe.text, None))
    rng = random.Random(SEED)
    outside = [Probe(t, None) for t in far]
    for group in (answerable, near, outside):
        rng.shuffle(group)
    outside = outside[:FAR_LINES]  # enough to measure the easy column
    notes = {
        **notes,
        "labels": len({str(c.metadata["label"]) for c in chunks}),
        "labels_taken_out": len(gone),
        "chunks_kept": len(kept),
    }
    probes = {ANSWERABLE: answerable, NEAR: near, FAR: outside}
    return NearSet(name, language, kept, probes, notes)


def near_clinc150(root: Path) -> NearSet:
    """Whole intents taken out; their test utterances are near-domain (same ten domains)."""
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    items = clinc150_items(root)
    questions = [Probe(t, frozenset({i})) for t, i in data["test"]]
    far = [t for t, _ in data["oos_test"]]
    return _split("clinc150", "en", items.chunks, questions, far, {})


def near_stackfaq(root: Path) -> NearSet:
    """Whole threads taken out; their rephrasings are near-domain. Far: CLINC150's
    out-of-scope lines. One row per thread, its question and its first answer, as a FAQ
    sheet has it: a thread's several answers would be different answers to one question, and
    the bot rightly asks which of them was meant."""
    items = stackfaq_items(root)
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    questions = [Probe(q.text, q.gold) for q in items.queries]
    first = [c for c in items.chunks if c.locator.endswith(";answer=0")]
    far = [t for t, _ in data["oos_test"]]
    notes = {"answers_left_out": len(items.chunks) - len(first)}
    return _split("stackfaq", "en", first, questions, far, notes)


def near_taipei_faq(root: Path) -> NearSet:
    """Rows of the question/answer sheet taken out; their questions are near-domain (the same
    city offices' subjects). A question also asked by a kept row stays answerable."""
    full = taipei_faq(root)
    questions = [p for p in full.fit + full.test if p.gold is not None]
    far = _lines(root / "crosswoz_utterances") + _smp_chat(root / "smp2017_ecdt")
    return _split("taipei_faq", "zh", full.chunks, questions, far, {})


def near_drcd(root: Path) -> NearSet:
    """Paragraphs taken out; their questions are near-domain. Other paragraphs of the same
    article stay, so some of these questions are in fact answered elsewhere (the gold is the
    paragraph only): the hardest of the four."""
    items = drcd_items(root)
    questions = [Probe(q.text, q.gold) for q in items.queries]
    far = _lines(root / "crosswoz_utterances") + _smp_chat(root / "smp2017_ecdt")
    return _split("drcd", "zh", items.chunks, questions, far, {})


def near_shop(root: Path) -> NearSet:
    """The demo shop (knowledge/demo/files) with a quarter of its FAQ rows taken out; the
    everyday questions of eval/data/shop_queries.tsv whose every answering item left are
    near-domain. A shop's FAQ has many rows on one subject (a 退換貨 sheet), so a right answer
    has close rivals there, unlike in the public sets. Policy pages stay. Far: the same travel
    and small-talk lines as taipei_faq. (eval/data/demo_questions.tsv is never used here: it
    is the test of eval/demo_shop.py.)"""
    items = shop_items(root)
    questions = [Probe(q.text, q.gold) for q in items.queries]
    rows = {
        str(c.metadata["label"])
        for c in items.chunks
        if c.metadata.get("question") and c.metadata.get("answer")
    }
    far = _lines(root / "crosswoz_utterances") + _smp_chat(root / "smp2017_ecdt")
    split = _split("shop", "zh", items.chunks, questions, far, {"faq_rows": len(rows)}, rows)
    return replace(split, mixed=True)


NEAR_SETS = {
    "clinc150": near_clinc150,
    "stackfaq": near_stackfaq,
    "taipei_faq": near_taipei_faq,
    "drcd": near_drcd,
    "shop": near_shop,
}


# ---- fitting ------------------------------------------------------------------------------------


def _label(answerer: Answerer, item_id: str) -> str | None:
    found = answerer.retriever.kb.catalog.get([item_id])
    return str(found[item_id].metadata.get("label")) if item_id in found else None


def asked_in(text: str, language: CustomerLanguage, mixed: bool) -> CustomerLanguage:
    """The language a question is asked in: the set's, or in a set of both languages the one
    the bot detects (as it does for every customer message)."""
    return detect_customer_language(text, language) if mixed else language


def collect(
    answerer: Answerer, probes: Sequence[Probe], language: CustomerLanguage, mixed: bool = False
) -> list[dict]:
    """Signals of each probe's best candidate, and whether that candidate is right."""
    rows = []
    for i, probe in enumerate(probes):
        attempt = answerer.attempt(probe.text, asked_in(probe.text, language, mixed))
        values = attempt.verdict.signals
        top = attempt.candidates[0].best.metadata.get("label") if attempt.candidates else None
        rows.append(
            {
                "signals": values,
                "in_scope": probe.gold is not None,
                "correct": probe.gold is not None and str(top) in probe.gold,
            }
        )
        if (i + 1) % 500 == 0:
            log.info("collected %d/%d", i + 1, len(probes))
    return rows


def _language_model(
    features: list[str], mean: np.ndarray, scale: np.ndarray, model: Any, name: str
) -> LanguageModel:
    """A fitted logistic regression over standardised signals, as kefu stores it."""
    return LanguageModel(
        features=features,
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        coef=[float(v) for v in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        threshold=0.5,
        fitted_on=name,
    )


def fit(rows: list[dict], name: str) -> LanguageModel:
    """Logistic regression (balanced classes): right answers against everything else; the
    operating point maximises the smaller of in-scope accuracy and out-of-scope recall."""
    from sklearn.linear_model import LogisticRegression

    features = sorted(
        {k for r in rows for k in r["signals"]},
        key=lambda k: -sum(1 for r in rows if k in r["signals"]),
    )
    features = [f for f in features if sum(1 for r in rows if f in r["signals"]) >= 0.9 * len(rows)]
    x = np.array([[r["signals"].get(f, 0.0) for f in features] for r in rows])
    y = np.array([r["correct"] for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(class_weight="balanced", max_iter=1000).fit((x - mean) / scale, y)
    fitted = _language_model(features, mean, scale, model, name)
    probs = [fitted.probability(r["signals"]) for r in rows]
    best = max(
        (t / 200 for t in range(1, 200)),
        key=lambda t: min(_rates(rows, probs, t).values()),
    )
    fitted.threshold = round(best, 3)
    return fitted


def _rates(rows: list[dict], probs: list[float], threshold: float) -> dict[str, float]:
    inscope = [(r, p) for r, p in zip(rows, probs, strict=True) if r["in_scope"]]
    outside = [p for r, p in zip(rows, probs, strict=True) if not r["in_scope"]]
    return {
        "in_scope_accuracy": sum(1 for r, p in inscope if p >= threshold and r["correct"])
        / max(len(inscope), 1),
        "out_of_scope_recall": sum(1 for p in outside if p < threshold) / max(len(outside), 1),
    }


# ---- testing ------------------------------------------------------------------------------------


def judge(answerer: Answerer, probes: Sequence[Probe], language: CustomerLanguage) -> dict:
    """The real answerer on every test probe: decisions, accuracy, recall, the curve."""
    outcomes = []
    seconds = []
    for i, probe in enumerate(probes):
        started = time.perf_counter()
        outcome = answerer.answer(probe.text, language)
        seconds.append(time.perf_counter() - started)
        labels = [_label(answerer, c.item_id) for c in outcome.citations]
        outcomes.append((probe, outcome, labels))
        if (i + 1) % 500 == 0:
            log.info("judged %d/%d", i + 1, len(probes))
    inscope = [(p, o, ls) for p, o, ls in outcomes if p.gold is not None]
    outside = [(p, o, ls) for p, o, ls in outcomes if p.gold is None]

    def share(items: list, test: Any) -> float:
        return round(sum(1 for x in items if test(*x)) / max(len(items), 1), 4)

    def right(p: Probe, o: Any, ls: list) -> bool:
        return o.decision == Decision.ANSWERED and bool(ls) and ls[0] in (p.gold or ())

    # The curve needs the best candidate of refused turns too: the first retrieved item.
    rows = [
        {
            "in_scope": p.gold is not None,
            "correct": bool(o.retrieved)
            and _label(answerer, o.retrieved[0].item_id) in (p.gold or ()),
        }
        for p, o, _ in outcomes
    ]
    probs = [o.confidence for _, o, _ in outcomes]
    curve = [
        {"threshold": t, **{k: round(v, 4) for k, v in _rates(rows, probs, t).items()}}
        for t in [x / 20 for x in range(1, 20)]
    ]
    return {
        "in_scope": len(inscope),
        "out_of_scope": len(outside),
        "in_scope_accuracy": share(inscope, right),
        "in_scope_refused": share(inscope, lambda p, o, ls: o.decision == Decision.REFUSED),
        "in_scope_clarifying": share(inscope, lambda p, o, ls: o.decision == Decision.CLARIFYING),
        "in_scope_clarifying_with_right_option": share(
            inscope,
            lambda p, o, ls: (
                o.decision == Decision.CLARIFYING and any(label in (p.gold or ()) for label in ls)
            ),
        ),
        "in_scope_wrong_answer": share(
            inscope, lambda p, o, ls: o.decision == Decision.ANSWERED and not right(p, o, ls)
        ),
        "out_of_scope_recall": share(outside, lambda p, o, ls: o.decision == Decision.REFUSED),
        "out_of_scope_clarifying": share(
            outside, lambda p, o, ls: o.decision == Decision.CLARIFYING
        ),
        "refusal_reasons": _count(o.reason for _, o, _ in outcomes if o.decision == "refused"),
        "latency_ms_p50": round(float(np.percentile(seconds, 50)) * 1000, 1),
        "latency_ms_p95": round(float(np.percentile(seconds, 95)) * 1000, 1),
        "curve": curve,
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclass
class Prepared:
    """A data set with its knowledge base, answerer pieces and fitting signals collected."""

    name: str
    chosen: RefusalSet
    retriever: HybridRetriever
    slot: ClassifierSlot
    has_classifier: bool
    rows: list[dict]
    build: dict[str, Any]


def prepare(name: str, root: Path, limit: int | None, cache: Path) -> Prepared:
    chosen = SETS[name](root)
    if limit:
        rng = random.Random(SEED)
        chosen.fit = rng.sample(chosen.fit, min(limit, len(chosen.fit)))
        chosen.test = rng.sample(chosen.test, min(limit, len(chosen.test)))
    evalset = EvalSet(chosen.cache_name or f"refusal-{name}", chosen.language, chosen.chunks, [])
    kb, build = build_kb(evalset, default_embedders(), cache / evalset.name)
    retriever = HybridRetriever(kb, RetrievalConfig(cache_size=64))
    kb_dir = cache / evalset.name
    classifier = AnswerClassifier.load(kb_dir)
    if classifier is None or classifier.revision != kb.catalog.revision():
        log.info("%s: fitting the answer classifier", name)
        classifier = fit_answer_classifier(kb)
        if classifier is not None:
            classifier.save(kb_dir)
    slot = ClassifierSlot(None, classifier)
    answerer = Answerer(retriever, RefusalModel.load(None), classifier=slot)
    log.info("%s: collecting signals of %d fitting questions", name, len(chosen.fit))
    rows = collect(answerer, chosen.fit, chosen.language)
    (kb_dir / "refusal-signals.json").write_text(json.dumps(rows), encoding="utf-8")
    return Prepared(name, chosen, retriever, slot, classifier is not None, rows, build)


def fit_language(prepared: list[Prepared], language: str) -> dict[str, LanguageModel]:
    """One model per language over the fitting questions of all its data sets, without the
    classifier's signal (for knowledge bases that have no classifier), and one with it fitted
    on the data sets that have a classifier."""
    mine = [p for p in prepared if p.chosen.language == language]
    names = "+".join(p.name for p in mine)
    rows = [r for p in mine for r in p.rows]
    # Without a classifier the knowledge has about one row per answer, where rows never agree
    # (agreement is 1/30 for every question): a signal that would only mislead.
    plain = [{**r, "signals": _without(r["signals"], "classifier", "agreement")} for r in rows]
    models = {language: fit(plain, names)}
    with_classifier = [r for p in mine if p.has_classifier for r in p.rows]
    if with_classifier:
        models[language + WITH_CLASSIFIER] = fit(with_classifier, names)
    return models


def test(prepared: Prepared, models: dict[str, LanguageModel]) -> dict[str, Any]:
    chosen = prepared.chosen
    answerer = Answerer(
        prepared.retriever, RefusalModel(models), AnswerPolicy(), classifier=prepared.slot
    )
    log.info("%s: judging %d test questions", prepared.name, len(chosen.test))
    result = judge(answerer, chosen.test, chosen.language)
    key = chosen.language + (WITH_CLASSIFIER if prepared.has_classifier else "")
    model = models[key]
    model.measured[prepared.name] = {
        k: v for k, v in result.items() if k in ("in_scope_accuracy", "out_of_scope_recall")
    }
    result.update(
        {
            "dataset": prepared.name,
            "language": chosen.language,
            "fit": len(chosen.fit),
            "build": prepared.build,
            "notes": chosen.notes,
            "model": {
                "name": key,
                "fitted_on": model.fitted_on,
                "features": model.features,
                "threshold": model.threshold,
            },
        }
    )
    return result


def _without(values: dict[str, float], *names: str) -> dict[str, float]:
    return {k: v for k, v in values.items() if k not in names}


def markdown(results: list[dict]) -> str:
    lines = [
        "# Refusal calibration",
        "",
        "Command: `python -m eval.refusal "
        + " ".join(f"--dataset {r['dataset']}" for r in results)
        + "`",
        "",
    ]
    for r in results:
        lines += [
            f"## {r['dataset']} ({r['language']})",
            "",
            f"Fitted on {r['fit']} questions; tested on {r['in_scope']} answerable and "
            f"{r['out_of_scope']} out-of-scope questions. Operating point: probability "
            f">= {r['model']['threshold']} answers.",
            "",
            "| measure | value |",
            "|---|---|",
        ]
        for key in (
            "in_scope_accuracy",
            "out_of_scope_recall",
            "in_scope_refused",
            "in_scope_clarifying",
            "in_scope_clarifying_with_right_option",
            "in_scope_wrong_answer",
            "out_of_scope_clarifying",
            "latency_ms_p50",
            "latency_ms_p95",
        ):
            lines.append(f"| {key} | {r[key]} |")
        lines += [
            "",
            f"Refusal reasons: {r['refusal_reasons']}",
            "",
            "Curve (answer when probability >= threshold; clarifying not applied):",
            "",
            "| threshold | in-scope accuracy | out-of-scope recall |",
            "|---|---|---|",
        ]
        for point in r["curve"]:
            lines.append(
                f"| {point['threshold']} | {point['in_scope_accuracy']} | "
                f"{point['out_of_scope_recall']} |"
            )
        lines.append("")
    return "\n".join(lines)


# ---- near-domain refusal, one data set left out ------------------------------------------------


@dataclass
class NearPrepared:
    """A near-domain set with its knowledge base and the signals of every question."""

    name: str
    chosen: NearSet
    retriever: HybridRetriever
    slot: ClassifierSlot
    rows: list[dict]  # collect()'s rows, each with its "kind"
    build: dict[str, Any]


def prepare_near(name: str, root: Path, limit: int | None, cache: Path) -> NearPrepared:
    chosen = NEAR_SETS[name](root).capped(limit)
    evalset = EvalSet(f"near-{name}", chosen.language, chosen.chunks, [])
    kb_dir = cache / evalset.name
    kb, build = build_kb(evalset, default_embedders(), kb_dir)
    refresh_scale(kb)  # as `kefu ingest` does
    # Every question is asked twice (signals, then the decision): the second time from cache.
    retriever = HybridRetriever(kb, RetrievalConfig(cache_size=20_000))
    classifier = AnswerClassifier.load(kb_dir)
    if classifier is None or classifier.revision != kb.catalog.revision():
        classifier = fit_answer_classifier(kb)
        if classifier is not None:
            classifier.save(kb_dir)
    slot = ClassifierSlot(None, classifier)
    answerer = Answerer(retriever, RefusalModel.load(None), classifier=slot)
    # The signals do not depend on the refusal model: kept, so that refitting takes seconds.
    asked = json.dumps({k: [p.text for p in v] for k, v in chosen.probes.items()})
    asked += SIGNALS_VERSION
    stored = kb_dir / f"near-signals-{hashlib.sha256(asked.encode()).hexdigest()[:12]}.json"
    if stored.is_file():
        rows = [_as_now(row) for row in json.loads(stored.read_text(encoding="utf-8"))]
    else:
        rows = []
        for kind, probes in chosen.probes.items():
            log.info("%s: collecting signals of %d %s questions", name, len(probes), kind)
            for row in collect(answerer, probes, chosen.language, chosen.mixed):
                rows.append({**row, "kind": kind})
        stored.write_text(json.dumps(rows), encoding="utf-8")
    return NearPrepared(name, chosen, retriever, slot, rows, build)


def _as_now(row: dict) -> dict:
    """A stored row's signals as `signals` gives them now: a turn answered from an item in
    the other language no longer has rank agreement (collected before, it is dropped)."""
    if row["signals"].get("cross_language") == 1.0:
        row["signals"].pop("rank_agreement", None)
    return row


def _near_rates(rows: list[dict], probs: list[float], threshold: float) -> dict[str, float]:
    """Answerable answered right, near-domain refused and far refused at one threshold."""

    def share(kind: str, test: Any) -> float:
        mine = [(r, p) for r, p in zip(rows, probs, strict=True) if r["kind"] == kind]
        return sum(1 for r, p in mine if test(r, p)) / max(len(mine), 1)

    return {
        "answered_right": share(ANSWERABLE, lambda r, p: p >= threshold and r["correct"]),
        "near_refused": share(NEAR, lambda r, p: p < threshold),
        "far_refused": share(FAR, lambda r, p: p < threshold),
    }


def signal_matrix(rows: list[dict], features: Sequence[str]) -> np.ndarray:
    """The rows' signals as a matrix; a signal a turn does not have (coverage across languages,
    standing without a scale) is the signal's mean, as `LanguageModel.probability` reads it."""
    x = np.array([[r["signals"].get(f, np.nan) for f in features] for r in rows], dtype=float)
    means = np.nanmean(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)
    return np.where(np.isnan(x), means, x)


# The band below the refusal threshold (the closest items offered) may take at most this share
# of any fitted set's far off-topic questions: a weather question is refused, not offered the
# shipping rates.
OFFER_FAR = 0.03


def fit_general(
    sets: dict[str, list[dict]],
    name: str,
    band: float = 0.03,
    features: Sequence[str] = GENERAL_FEATURES,
) -> LanguageModel:
    """One logistic model over the signals every knowledge base has, fitted on several data
    sets at once (each weighs the same, right and wrong answers balanced within each).

    The refusal threshold maximises the mean over the data sets of the worst of answered-right,
    near-domain refused and far refused. The band above it, where the bot offers its closest
    item instead of answering, is as wide as costs at most `band` of answered-right on the
    mean, so that it takes the least sure answers, which are the likeliest wrong."""
    from sklearn.linear_model import LogisticRegression

    features = list(features)
    rows = [r for mine in sets.values() for r in mine]
    x = signal_matrix(rows, features)
    y = np.array([r["correct"] for r in rows])
    weights = []
    for mine in sets.values():
        right = sum(1 for r in mine if r["correct"])
        for r in mine:
            weights.append(0.5 / max(right if r["correct"] else len(mine) - right, 1))
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(max_iter=2000).fit(
        (x - mean) / scale, y, sample_weight=np.array(weights) * len(rows)
    )
    fitted = _language_model(features, mean, scale, model, name)
    probs = {n: [fitted.probability(r["signals"]) for r in mine] for n, mine in sets.items()}
    grid = [t / 200 for t in range(1, 200)]

    def mean_of(t: float, pick: Any) -> float:
        return float(np.mean([pick(_near_rates(mine, probs[n], t)) for n, mine in sets.items()]))

    refuse = max(grid, key=lambda t: mean_of(t, lambda rates: min(rates.values())))
    right_at = mean_of(refuse, lambda rates: rates["answered_right"])
    confident = max(
        (t for t in grid if t >= refuse) if band > 0 else [refuse],
        key=lambda t: (mean_of(t, lambda rates: rates["answered_right"]) >= right_at - band, t),
    )
    fitted.threshold = round(refuse, 3)
    fitted.confident = round(confident, 3)
    fitted.offer = place_offer(sets, probs, fitted.threshold)
    return fitted


def place_offer(
    sets: dict[str, list[dict]], probs: dict[str, list[float]], threshold: float
) -> float | None:
    """The lower end of the band below the refusal threshold, where the bot offers its closest
    items to pick from instead of refusing flatly (when the best item shares some of the
    question's words, `shares_words`): as low as keeps the far off-topic questions it would
    offer something to at most OFFER_FAR of each data set (a near-domain question
    offered the closest items is held back all the same, and an answerable one is a tap from
    its answer when a right item is among them). None when no such band exists."""
    grid = [t / 200 for t in range(1, 200) if t / 200 < threshold]

    def far_offered(t: float) -> float:
        worst = 0.0
        for name, mine in sets.items():
            far = [
                p
                for r, p in zip(mine, probs[name], strict=True)
                if r["kind"] == FAR and shares_words(r["signals"])
            ]
            far_all = sum(1 for r in mine if r["kind"] == FAR)
            worst = max(worst, sum(1 for p in far if t <= p < threshold) / max(far_all, 1))
        return worst

    low = next((t for t in grid if far_offered(t) <= OFFER_FAR), None)
    return round(low, 3) if low is not None else None


def judge_near(prepared: NearPrepared, model: LanguageModel) -> dict[str, Any]:
    """The real answerer with `model` on every question of the set, by kind."""
    chosen = prepared.chosen
    refusal = RefusalModel({chosen.language: model})
    answerer = Answerer(prepared.retriever, refusal, AnswerPolicy(), classifier=prepared.slot)
    result: dict[str, Any] = {}
    for kind, probes in chosen.probes.items():
        counts = {"answered_right": 0, "answered_wrong": 0, "band": 0, "band_right": 0}
        counts.update({"clarifying": 0, "refused": 0})
        for probe in probes:
            language = asked_in(probe.text, chosen.language, chosen.mixed)
            outcome = answerer.answer(probe.text, language)
            labels = [_label(answerer, c.item_id) for c in outcome.citations]
            right = bool(labels) and labels[0] in (probe.gold or ())
            if outcome.decision == Decision.ANSWERED:
                counts["answered_right" if right else "answered_wrong"] += 1
            elif outcome.decision == Decision.REFUSED:
                counts["refused"] += 1
            elif outcome.reason == CLOSEST_MATCH:
                counts["band"] += 1
                counts["band_right"] += right
            else:
                counts["clarifying"] += 1
        result[kind] = {k: round(v / max(len(probes), 1), 4) for k, v in counts.items()}
        result[kind]["questions"] = len(probes)
    return result


def near_curve(rows: list[dict], model: LanguageModel) -> list[dict[str, float]]:
    probs = [model.probability(r["signals"]) for r in rows]
    return [
        {"threshold": t, **{k: round(v, 4) for k, v in _near_rates(rows, probs, t).items()}}
        for t in [x / 20 for x in range(1, 20)]
    ]


def _shipped_rates(prepared: NearPrepared) -> dict[str, float]:
    """The previously shipped model on the same signals (no band): the baseline."""
    shipped = RefusalModel.load(None)
    language = prepared.chosen.language
    probs, thresholds = [], []
    for r in prepared.rows:
        model = shipped.model_for(language, r["signals"])
        probs.append(model.probability(r["signals"]))
        thresholds.append(model.threshold)
    # one model per set in practice (a classifier or not), so one threshold
    return {k: round(v, 4) for k, v in _near_rates(prepared.rows, probs, thresholds[0]).items()}


# Signal sets compared by `--compare-features` (each fitted leaving one data set out).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "previous": ("margin", "similarity_lead", "specific_coverage", "rank_agreement"),
    "content coverage": ("margin", "similarity_lead", "content_coverage", "rank_agreement"),
    "content coverage, reach": ("margin", "similarity_lead", "content_coverage", "reach_agreement"),
    "previous + standing": (
        "margin",
        "similarity_lead",
        "specific_coverage",
        "rank_agreement",
        "standing",
    ),
    "content coverage + standing": (
        "margin",
        "similarity_lead",
        "content_coverage",
        "rank_agreement",
        "standing",
    ),
    "content coverage, reach + standing": (
        "margin",
        "similarity_lead",
        "content_coverage",
        "reach_agreement",
        "standing",
    ),
    "content coverage, support": ("margin", "similarity_lead", "content_coverage", "rank_support"),
    "content coverage, support, fused lead": (
        "margin",
        "similarity_lead",
        "content_coverage",
        "rank_support",
        "fused_lead",
    ),
    "content coverage, agreement, support, fused lead": (
        "margin",
        "similarity_lead",
        "content_coverage",
        "rank_agreement",
        "rank_support",
        "fused_lead",
    ),
    "content coverage, support, fused lead + standing": (
        "margin",
        "similarity_lead",
        "content_coverage",
        "rank_support",
        "fused_lead",
        "standing",
    ),
    "similarity lead, coverage, support, fused lead": (
        "similarity_lead",
        "content_coverage",
        "rank_support",
        "fused_lead",
    ),
}


def compare_features(prepared: Sequence[NearPrepared]) -> list[dict[str, Any]]:
    """Each signal set of FEATURE_SETS, fitted with one data set left out at a time and read on
    the stored signals of the set left out (one threshold for refusing, the band's upper end
    for answering; no clarifying between close answers): a quick comparison that needs no
    answering, which `--features` then measures through the real answerer."""
    out = []
    for name, features in FEATURE_SETS.items():
        per_set = {}
        for held in prepared:
            others = {p.name: p.rows for p in prepared if p is not held}
            model = fit_general(others, "+".join(others), features=features)
            probs = [model.probability(r["signals"]) for r in held.rows]
            answering = _near_rates(held.rows, probs, model.confident or model.threshold)
            refusing = _near_rates(held.rows, probs, model.threshold)
            per_set[held.name] = {
                "answered_right": round(answering["answered_right"], 4),
                "near_refused": round(refusing["near_refused"], 4),
                "near_held_back": round(answering["near_refused"], 4),
                "far_refused": round(refusing["far_refused"], 4),
            }
        out.append({"features": name, "signals": list(features), "held_out": per_set})
        print(json.dumps(out[-1]), flush=True)
    return out


def features_markdown(compared: list[dict[str, Any]], command: str) -> str:
    names = list(compared[0]["held_out"]) if compared else []
    lines = [
        "# Refusal signals compared, one data set left out",
        "",
        f"Command: `{command}`",
        "",
        "Read on the stored signals of the set left out: answered right = its best item right "
        "and the probability at or above the band's upper end; near refused = below the "
        "refusal threshold; no clarifying between close answers.",
        "",
        "| signals | answered right mean / worst | near refused mean / worst | far refused mean | "
        + " | ".join(names)
        + " |",
        "|---|---:|---:|---:|" + "---|" * len(names),
    ]
    for c in compared:
        held = c["held_out"]
        right = [v["answered_right"] for v in held.values()]
        near = [v["near_refused"] for v in held.values()]
        far = [v["far_refused"] for v in held.values()]
        cells = " | ".join(
            f"{held[n]['answered_right']:.3f} / {held[n]['near_refused']:.3f}" for n in names
        )
        lines.append(
            f"| {c['features']} | {np.mean(right):.3f} / {min(right):.3f} | "
            f"{np.mean(near):.3f} / {min(near):.3f} | {np.mean(far):.3f} | {cells} |"
        )
    return "\n".join([*lines, ""])


def run_near(
    names: Sequence[str],
    root: Path,
    limit: int | None,
    cache: Path,
    features: Sequence[str] = GENERAL_FEATURES,
) -> dict:
    """Leave one data set out: fit on the others, test on it; then fit on all to ship."""
    prepared = [prepare_near(name, root, limit, cache) for name in names]
    results = []
    for held in prepared:
        others = {p.name: p.rows for p in prepared if p is not held}
        model = fit_general(others, "+".join(others), features=features)
        log.info(
            "%s held out: offer %s, threshold %s, confident %s",
            held.name,
            model.offer,
            model.threshold,
            model.confident,
        )
        judged = judge_near(held, model)
        results.append(
            {
                "dataset": held.name,
                "language": held.chosen.language,
                "fitted_on": model.fitted_on,
                "threshold": model.threshold,
                "confident": model.confident,
                "offer": model.offer,
                "judged": judged,
                "without_band": {
                    k: round(v, 4)
                    for k, v in _near_rates(
                        held.rows,
                        [model.probability(r["signals"]) for r in held.rows],
                        model.threshold,
                    ).items()
                },
                "shipped_before": _shipped_rates(held),
                "curve": near_curve(held.rows, model),
                "notes": held.chosen.notes,
                "build": held.build,
            }
        )
        print(json.dumps({k: v for k, v in results[-1].items() if k != "curve"}), flush=True)
    everything = fit_general({p.name: p.rows for p in prepared}, "+".join(names), features=features)
    # Knowledge with an answer classifier (many phrasings per answer) also gets a model that
    # uses its probability; only CLINC150 has one, so it cannot be judged on a set left out.
    with_classifier = {
        p.name: p.rows for p in prepared if all("classifier" in r["signals"] for r in p.rows)
    }
    classifier_model = None
    if with_classifier:
        classifier_model = fit_general(
            with_classifier, "+".join(with_classifier), features=(*features, "classifier")
        )
    for p, r in zip(prepared, results, strict=True):
        model = everything
        if classifier_model is not None and p.name in with_classifier:
            model = classifier_model
        probs = [model.probability(row["signals"]) for row in p.rows]
        r["shipped_in_sample"] = {
            k: round(v, 4) for k, v in _near_rates(p.rows, probs, model.threshold).items()
        }
    return {
        "results": results,
        "model": everything,
        "classifier_model": classifier_model,
        "limit": limit,
    }


def _held_back(judged: dict[str, float]) -> float:
    """The share not answered: refused, the closest items offered, or asked which was meant."""
    return 1.0 - judged["answered_right"] - judged["answered_wrong"]


def near_markdown(run: dict, command: str) -> str:
    results = run["results"]
    lines = [
        "# Near-domain refusal, one data set left out",
        "",
        f"Command: `{command}`",
        "",
        "Each data set's knowledge base lacks a seeded quarter of its items (CLINC150: whole",
        "intents; StackFAQ: whole threads; Taipei: rows; DRCD: paragraphs). Answerable = the",
        "questions of the kept items; near = the questions of the items taken out (same subject,",
        "answer not there); far = off-topic lines. The model that judges a data set was fitted",
        "on the other data sets only.",
        "",
        "| held-out data set | answerable answered right | in the band (right item offered) |"
        " answerable refused | near refused | near in the band | near held back | near answered |"
        " far refused | far answered | before: answered right / near refused / far refused |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        a, n, f = (r["judged"][k] for k in (ANSWERABLE, NEAR, FAR))
        b = r["shipped_before"]
        lines.append(
            f"| {r['dataset']} ({r['language']}; {a['questions']} / {n['questions']} / "
            f"{f['questions']}) | {a['answered_right']:.3f} | {a['band']:.3f} "
            f"({a['band_right']:.3f}) | {a['refused']:.3f} | {n['refused']:.3f} | "
            f"{n['band']:.3f} | {_held_back(n):.3f} | "
            f"{n['answered_right'] + n['answered_wrong']:.3f} | "
            f"{f['refused']:.3f} | {f['answered_right'] + f['answered_wrong']:.3f} | "
            f"{b['answered_right']:.3f} / {b['near_refused']:.3f} / {b['far_refused']:.3f} |"
        )

    def stat(pick: Any) -> tuple[float, float]:
        values = [pick(r["judged"]) for r in results]
        return float(np.mean(values)), float(min(values))

    right = stat(lambda j: j[ANSWERABLE]["answered_right"])
    near = stat(lambda j: j[NEAR]["refused"])
    held = stat(lambda j: _held_back(j[NEAR]))
    far = stat(lambda j: j[FAR]["refused"])
    lines += [
        f"| **mean** | **{right[0]:.3f}** | | | **{near[0]:.3f}** | | **{held[0]:.3f}** | "
        f"| **{far[0]:.3f}** | | |",
        f"| **worst** | **{right[1]:.3f}** | | | **{near[1]:.3f}** | | **{held[1]:.3f}** | "
        f"| **{far[1]:.3f}** | | |",
        "",
        "Probabilities (the closest items offered from / the closest one alone from / answered "
        "from; below the first: refused):",
        "",
    ]
    for r in results:
        lines.append(
            f"- {r['dataset']}: fitted on {r['fitted_on']}: {r.get('offer')} / {r['threshold']} / "
            f"{r['confident']};"
            f" without the band: answered right {r['without_band']['answered_right']:.3f},"
            f" near refused {r['without_band']['near_refused']:.3f}"
        )
    model = run["model"]
    lines += [
        "",
        f"Shipped model: fitted on {model.fitted_on}, the closest items offered from "
        f"{model.offer}, refuse below {model.threshold} otherwise, answer from "
        f"{model.confident}; features {', '.join(model.features)}.",
    ]
    if run.get("classifier_model") is not None:
        clf = run["classifier_model"]
        lines.append(
            f"With an answer classifier: fitted on {clf.fitted_on}, refuse below "
            f"{clf.threshold}, answer from {clf.confident}."
        )
    lines += [
        "",
        "The shipped models on the sets they were fitted on (in-sample, one threshold, no band):",
        "",
        "| data set | answered right | near refused | far refused |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        own = r["shipped_in_sample"]
        lines.append(
            f"| {r['dataset']} | {own['answered_right']:.3f} | {own['near_refused']:.3f} | "
            f"{own['far_refused']:.3f} |"
        )
    lines.append("")
    for r in results:
        lines += [
            f"## {r['dataset']}: the curve (one threshold, no band, no clarifying)",
            "",
            "| threshold | answerable answered right | near refused | far refused |",
            "|---|---:|---:|---:|",
        ]
        for point in r["curve"]:
            lines.append(
                f"| {point['threshold']} | {point['answered_right']} | "
                f"{point['near_refused']} | {point['far_refused']} |"
            )
        lines.append("")
    return "\n".join(lines)


def place_shipped_offer(args: argparse.Namespace) -> int:
    """The shipped model as it is, with the lower end of its offer band placed (`place_offer`)
    on the stored signals of the data sets it was fitted on; written back with
    --save-default. Its own held-out figures are those of the recipe (`--near-domain`)."""
    root = args.data_root or default_root()
    shipped = RefusalModel.load(None)
    for key, model in shipped.languages.items():
        names = [n for n in model.fitted_on.split("+") if n in NEAR_SETS]
        prepared = [prepare_near(name, root, args.limit, args.cache_dir) for name in names]
        rows = {p.name: p.rows for p in prepared}
        if WITH_CLASSIFIER in key:
            rows = {n: r for n, r in rows.items() if all("classifier" in x["signals"] for x in r)}
        probs = {n: [model.probability(r["signals"]) for r in mine] for n, mine in rows.items()}
        model.offer = place_offer(rows, probs, model.threshold)
        log.info(
            "%s: closest items offered from %s (refusing below %s)",
            key,
            model.offer,
            model.threshold,
        )
    if args.save_default:
        shipped.save(Path(__file__).resolve().parents[1] / "bot" / "answering")
    print(shipped.to_json())
    return 0


def near_main(args: argparse.Namespace) -> int:
    root = args.data_root or default_root()
    names = args.dataset or list(NEAR_SETS)
    if args.compare_features:
        prepared = [prepare_near(name, root, args.limit, args.cache_dir) for name in names]
        compared = compare_features(prepared)
        command = "kefu eval refusal --near-domain --compare-features"
        command += "".join(f" --dataset {n}" for n in names)
        command += f" --limit {args.limit}" if args.limit else ""
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "refusal-features.md").write_text(
            features_markdown(compared, command), encoding="utf-8"
        )
        print(f"report: {args.out_dir / 'refusal-features.md'}")
        if args.features:
            # The chosen set fitted on every data set, its held-out figures as compared above.
            features = FEATURE_SETS[args.features]
            everything = fit_general(
                {p.name: p.rows for p in prepared}, "+".join(names), features=features
            )
            with_classifier = {
                p.name: p.rows
                for p in prepared
                if all("classifier" in r["signals"] for r in p.rows)
            }
            clf = None
            if with_classifier:
                clf = fit_general(
                    with_classifier, "+".join(with_classifier), features=(*features, "classifier")
                )
            chosen = next(c for c in compared if c["features"] == args.features)
            for name, figures in chosen["held_out"].items():
                everything.measured[name] = {
                    "held_out_answered_right": figures["answered_right"],
                    "held_out_near_refused": figures["near_refused"],
                    "held_out_far_refused": figures["far_refused"],
                    "read_on": "stored signals (--compare-features)",
                }
            _ship(args, everything, clf)
        return 0
    features = FEATURE_SETS[args.features] if args.features else GENERAL_FEATURES
    run = run_near(names, root, args.limit, args.cache_dir, features)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    command = "kefu-eval refusal --near-domain" + "".join(f" --dataset {n}" for n in names)
    command += f" --limit {args.limit}" if args.limit else ""
    clf = run["classifier_model"]
    serialisable = {
        **run,
        "model": asdict(run["model"]),
        "classifier_model": asdict(clf) if clf is not None else None,
    }
    (args.out_dir / "refusal-near.json").write_text(
        json.dumps(serialisable, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (args.out_dir / "refusal-near.md").write_text(near_markdown(run, command), encoding="utf-8")
    model: LanguageModel = run["model"]
    for r in run["results"]:
        model.measured[r["dataset"]] = {
            "held_out_answered_right": r["judged"][ANSWERABLE]["answered_right"],
            "held_out_near_refused": r["judged"][NEAR]["refused"],
            "held_out_far_refused": r["judged"][FAR]["refused"],
        }
    _ship(args, model, clf)
    print(f"report: {args.out_dir / 'refusal-near.md'}")
    return 0


def _ship(args: argparse.Namespace, model: LanguageModel, clf: LanguageModel | None) -> None:
    """Write the fitted models (one for every language: the held-out figures are of exactly
    this recipe) to the results, and where asked as the default or into a data dir."""
    fitted = RefusalModel({"en": model, "zh": replace(model)})
    if clf is not None:
        fitted.languages["en" + WITH_CLASSIFIER] = clf
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "refusal-near-model.json").write_text(fitted.to_json(), encoding="utf-8")
    if args.save_default:
        fitted.save(Path(__file__).resolve().parents[1] / "bot" / "answering")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        fitted.save(args.save)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=sorted(set(SETS) | set(NEAR_SETS)))
    parser.add_argument(
        "--near-domain",
        action="store_true",
        help="near-domain refusal: a quarter of each set's items taken out, one set left out "
        "of fitting at a time (default: all four sets)",
    )
    parser.add_argument("--limit", type=int, default=None, help="questions per half (sampled)")
    parser.add_argument(
        "--compare-features",
        action="store_true",
        help="with --near-domain: compare the signal sets of FEATURE_SETS on stored signals",
    )
    parser.add_argument(
        "--features",
        choices=sorted(FEATURE_SETS),
        default=None,
        help="with --near-domain: the signal set to fit (default: the shipped model's)",
    )
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--save-default",
        action="store_true",
        help="write the fitted models as kefu's shipped default (bot/answering/refusal.json)",
    )
    parser.add_argument(
        "--save", type=Path, default=None, help="write the fitted models into this data dir"
    )
    parser.add_argument(
        "--place-offer",
        action="store_true",
        help="place the shipped model's offer band on the sets it was fitted on (with "
        "--save-default: write it back); its coefficients and thresholds are kept",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.place_offer:
        return place_shipped_offer(args)
    if args.near_domain:
        return near_main(args)
    if not args.dataset:
        parser.error("--dataset is required (or --near-domain)")
    root = args.data_root or default_root()
    models: dict[str, LanguageModel] = {}
    results = []
    prepared = [prepare(name, root, args.limit, args.cache_dir) for name in args.dataset]
    for language in sorted({p.chosen.language for p in prepared}):
        models.update(fit_language(prepared, language))
    for p in prepared:
        result = test(p, models)
        results.append(result)
        print(json.dumps({k: v for k, v in result.items() if k != "curve"}, ensure_ascii=False))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "refusal.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (args.out_dir / "refusal.md").write_text(markdown(results), encoding="utf-8")
    fitted = RefusalModel(models)
    (args.out_dir / "refusal-model.json").write_text(fitted.to_json(), encoding="utf-8")
    if args.save_default:
        target = Path(__file__).resolve().parents[1] / "bot" / "answering"
        if (target / "refusal.json").exists():
            merged = RefusalModel.from_json((target / "refusal.json").read_text("utf-8"))
            merged.languages.update(models)
            fitted = merged
        fitted.save(target)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        fitted.save(args.save)
    print(f"report: {args.out_dir / 'refusal.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
