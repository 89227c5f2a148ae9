"""Answer quality: the extractive answerer against the optional LLM drafting, on DRCD.

DRCD questions come with the span of their paragraph that answers them ("歐洲", "1786年"), so
an answer is counted right when its reply contains a gold span. The knowledge base is the
DRCD dev paragraphs chunked as a PDF would be (the retrieval evaluation's set). For each
sampled question the real answerer decides; with `--llm` the same turn is also drafted by the
configured chat model (KEFU_LLM__*, e.g. the local model of `make local-llm`) and checked
against the passages, so both modes are measured on the same retrieval.

    python -m eval.answers [--limit 30] [--llm]

Reported per mode: answered, right (gold span in the reply), refused; for the LLM also the
drafts used, declined, rejected by the grounding check and failed; seconds per answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bot.answering.answerer import Answerer
from bot.answering.refusal import RefusalModel
from bot.conversation.events import Decision
from eval.datasets import default_root
from eval.datasets import drcd as drcd_items
from eval.retrieval import DEFAULT_CACHE, DEFAULT_RESULTS, build_kb, default_embedders
from knowledge.retriever import HybridRetriever, RetrievalConfig
from knowledge.text import normalize

log = logging.getLogger(__name__)
SEED = 13


def gold_spans(root: Path) -> list[tuple[str, list[str]]]:
    data = json.loads((root / "drcd" / "DRCD_dev.json").read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                spans = sorted({a["text"].strip() for a in qa["answers"] if a["text"].strip()})
                out.append((qa["question"].strip(), spans))
    return out


def _right(reply: str, spans: list[str]) -> bool:
    said = normalize(reply)
    return any(normalize(span) in said for span in spans)


def run(limit: int, use_llm: bool, root: Path, cache: Path) -> dict[str, Any]:
    from bot.services import llm_composer
    from bot.settings import Settings

    embedders = default_embedders()
    kb, _ = build_kb(drcd_items(root), embedders, cache / "drcd")
    retriever = HybridRetriever(kb, RetrievalConfig())
    refusal = RefusalModel.load(None)
    extractive = Answerer(retriever, refusal)
    composer = llm_composer(Settings(), embedders) if use_llm else None
    if use_llm and composer is None:
        raise SystemExit("--llm needs KEFU_LLM__MODE (openai or llamacpp); see README")
    questions = random.Random(SEED).sample(gold_spans(root), limit)
    rows = []
    for i, (question, spans) in enumerate(questions, start=1):
        started = time.perf_counter()
        outcome = extractive.answer(question, "zh")
        row: dict[str, Any] = {
            "question": question,
            "gold": spans,
            "decision": outcome.decision.value,
            "extractive": outcome.reply,
            "extractive_right": outcome.decision == Decision.ANSWERED
            and _right(outcome.reply, spans),
            "extractive_seconds": time.perf_counter() - started,
        }
        if composer is not None and outcome.decision == Decision.ANSWERED:
            attempt = extractive.attempt(question, "zh")
            started = time.perf_counter()
            drafted, record = composer.compose(question, attempt.candidates, "zh")
            row["llm_seconds"] = time.perf_counter() - started
            row["llm"] = record
            reply = drafted if drafted is not None else outcome.reply
            row["llm_reply"] = reply
            row["llm_right"] = _right(reply, spans)
            row["llm_draft_right"] = drafted is not None and _right(drafted, spans)
        rows.append(row)
        log.info("%d/%d %s", i, len(questions), row["decision"])
    return summarize(rows, use_llm)


def summarize(rows: list[dict[str, Any]], use_llm: bool) -> dict[str, Any]:
    n = len(rows)
    answered = [r for r in rows if r["decision"] == "answered"]
    result: dict[str, Any] = {
        "questions": n,
        "answered": len(answered),
        "refused": sum(1 for r in rows if r["decision"] == "refused"),
        "clarifying": sum(1 for r in rows if r["decision"] == "clarifying"),
        "extractive_right": sum(1 for r in rows if r["extractive_right"]),
        "extractive_seconds_mean": round(sum(r["extractive_seconds"] for r in rows) / n, 3),
    }
    if use_llm:
        outcomes: dict[str, int] = {}
        for r in answered:
            key = r["llm"]["outcome"]
            outcomes[key] = outcomes.get(key, 0) + 1
        result.update(
            {
                "llm_outcomes": outcomes,
                "llm_right_with_fallback": sum(1 for r in answered if r["llm_right"]),
                "llm_drafts_right": sum(1 for r in answered if r["llm_draft_right"]),
                "llm_seconds_mean": round(
                    sum(r["llm_seconds"] for r in answered) / max(len(answered), 1), 2
                ),
            }
        )
    result["rows"] = rows
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--llm", action="store_true", help="also draft with the configured LLM")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = run(args.limit, args.llm, args.data_root or default_root(), args.cache_dir)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = "answers-llm.json" if args.llm else "answers.json"
    (args.out_dir / name).write_text(
        json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
