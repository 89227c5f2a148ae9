"""Redaction: precision and recall of bot/privacy/redaction.py's recognisers on labelled
messages.

    python -m eval.redaction [--data eval/data/redaction_messages.tsv] [--show-errors]

eval/data/redaction_messages.tsv holds customer and agent messages in zh-TW and English, with
the personal numbers each holds, and messages holding order numbers, tracking numbers, prices,
dates, invoice numbers, barcodes and product codes that must not be masked (some of them pass
the Luhn check). A finding is right when it is of the labelled kind and overlaps the labelled
text; every other finding is a false positive, every label not found a miss. The figures are
printed per kind and over all kinds, and the share of messages that must stay untouched that
did.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.privacy.redaction import ALL_KINDS, Finding, find

DEFAULT_DATA = Path(__file__).with_name("data") / "redaction_messages.tsv"


@dataclass(frozen=True)
class Labelled:
    language: str
    text: str
    expected: tuple[Finding, ...]


def load(path: Path) -> list[Labelled]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = csv.DictReader(
        (line for line in lines if not line.startswith("#")),
        delimiter="\t",
        quoting=csv.QUOTE_NONE,
    )
    labelled = []
    for row in rows:
        text = row["text"]
        expected = []
        if row["expected"].strip() != "-":
            for part in row["expected"].split(" | "):
                kind, _, value = part.partition("=")
                if kind not in ALL_KINDS:
                    raise ValueError(f"unknown kind {kind!r} in {row!r}")
                start = text.find(value)
                if start < 0:
                    raise ValueError(f"{value!r} is not in {text!r}")
                expected.append(Finding(kind, start, start + len(value)))
        labelled.append(Labelled(row["lang"], text, tuple(expected)))
    return labelled


def _overlap(a: Finding, b: Finding) -> bool:
    return a.kind == b.kind and a.start < b.end and b.start < a.end


@dataclass
class Scores:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]
    clean_messages: int
    clean_untouched: int
    errors: list[str]


def score(labelled: list[Labelled]) -> Scores:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    clean = untouched = 0
    errors = []
    for item in labelled:
        found = find(item.text)
        for f in found:
            if any(_overlap(f, e) for e in item.expected):
                tp[f.kind] += 1
            else:
                fp[f.kind] += 1
                errors.append(f"false {f.kind}: {item.text[f.start : f.end]!r} in {item.text!r}")
        for e in item.expected:
            if not any(_overlap(f, e) for f in found):
                fn[e.kind] += 1
                errors.append(f"missed {e.kind}: {item.text[e.start : e.end]!r} in {item.text!r}")
        if not item.expected:
            clean += 1
            untouched += not found
    return Scores(tp, fp, fn, clean, untouched, errors)


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def report(scores: Scores, labelled: list[Labelled]) -> str:
    languages = Counter(item.language for item in labelled)
    per_language = ", ".join(f"{n} {lang}" for lang, n in sorted(languages.items()))
    lines = [
        f"{len(labelled)} messages ({per_language}), "
        f"{scores.clean_messages} of them with nothing to mask",
        f"{'kind':<14}{'labels':>7}{'found':>7}{'right':>7}{'precision':>11}{'recall':>8}",
    ]
    for kind in (*ALL_KINDS, "all"):
        if kind == "all":
            tp, fp, fn = (sum(c.values()) for c in (scores.tp, scores.fp, scores.fn))
        else:
            tp, fp, fn = scores.tp[kind], scores.fp[kind], scores.fn[kind]
        lines.append(
            f"{kind:<14}{tp + fn:>7}{tp + fp:>7}{tp:>7}"
            f"{_ratio(tp, tp + fp):>11}{_ratio(tp, tp + fn):>8}"
        )
    lines.append(
        f"messages with nothing to mask left untouched: {scores.clean_untouched}/"
        f"{scores.clean_messages}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-errors", action="store_true", help="List every wrong finding.")
    args = parser.parse_args(argv)
    labelled = load(args.data)
    scores = score(labelled)
    print(report(scores, labelled))
    if args.show_errors:
        print("\n".join(scores.errors) or "no errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
