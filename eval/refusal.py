"""Refusal calibration: fit the "not in the knowledge base" model and measure it.

For each data set, the knowledge base is built (and cached) from its items; questions that
the knowledge base answers and questions it cannot answer are split into a fitting half and a
test half. On the fitting half the turn's refusal signals (bot.answering.refusal) are
collected through the real answerer, a logistic model is fitted per language and its operating
point is chosen; on the test half the real answerer then decides every question, and the
report gives in-scope accuracy, out-of-scope recall, the clarifying rate and the full curve.

    python -m eval.refusal --dataset clinc150 --dataset taipei_faq [--save-default] [--limit N]

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
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bot.answering.answerer import Answerer, AnswerPolicy
from bot.answering.classifier import AnswerClassifier, ClassifierSlot, fit_answer_classifier
from bot.answering.language import CustomerLanguage
from bot.answering.refusal import WITH_CLASSIFIER, LanguageModel, RefusalModel
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


# ---- fitting ------------------------------------------------------------------------------------


def _label(answerer: Answerer, item_id: str) -> str | None:
    found = answerer.retriever.kb.catalog.get([item_id])
    return str(found[item_id].metadata.get("label")) if item_id in found else None


def collect(answerer: Answerer, probes: Sequence[Probe], language: CustomerLanguage) -> list[dict]:
    """Signals of each probe's best candidate, and whether that candidate is right."""
    rows = []
    for i, probe in enumerate(probes):
        attempt = answerer.attempt(probe.text, language)
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
    fitted = LanguageModel(
        features=features,
        mean=[float(v) for v in mean],
        scale=[float(v) for v in scale],
        coef=[float(v) for v in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        threshold=0.5,
        fitted_on=name,
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=sorted(SETS), required=True)
    parser.add_argument("--limit", type=int, default=None, help="questions per half (sampled)")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
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
