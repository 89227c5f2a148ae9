"""LLM drafts on the demo knowledge base: grounded, correct, declined when they should be, speed.

    python -m eval.llm_local [--data-dir data] [--model-path FILE] [--out FILE.json]

Each case gives the model the passages a retriever would (the item holding the answer and two
neighbours, read from knowledge/demo/files with the project's loaders), so that the model is
measured, not the retriever. Correctness is a check for the facts the answer must contain,
printed with every draft so that a reader can overrule it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEMO = Path(__file__).resolve().parents[1] / "knowledge" / "demo" / "files"


@dataclass(frozen=True)
class Case:
    question: str
    language: Literal["zh", "en"]
    passages: tuple[str, ...]  # phrases that pick the passages, the answer's first
    # Each group: at least one of its phrases must be in a correct answer. Empty = must decline.
    must_say: tuple[tuple[str, ...], ...] = ()


RETURNS, REFUND, COOLING_OFF = "回收運費由我們負擔", "5 個工作天內辦理退款", "7 天鑑賞期"
EN_FEES, EN_SPEED = "NT$990 or more", "1–2 business"
CASES = [
    Case(
        "退貨需要自己付運費嗎？",
        "zh",
        (RETURNS, REFUND, COOLING_OFF),
        (("我們",), ("負擔", "支付")),
    ),
    Case("退款多久會收到？", "zh", (REFUND, RETURNS, "更換尺寸或顏色"), (("5",), ("工作天",))),
    Case("多少錢可以免運？", "zh", ("滿 NT$990 免運費", "NT$220", "黑貓宅急便宅配"), (("990",),)),
    Case(
        "點數會過期嗎？",
        "zh",
        ("點數自發放日起 12 個月內有效", "生日禮金", "年消費滿 NT$6,000"),
        (("12",), ("月",)),
    ),
    Case(
        "鑑賞期從哪一天開始算？",
        "zh",
        ("隔天開始計算", "到府收件", "不適用七天鑑賞期"),
        (("隔天",),),
    ),
    Case("How much is shipping?", "en", (EN_FEES, "Penghu, Kinmen", EN_SPEED), (("990",),)),
    Case(
        "When can I talk to a human agent?",
        "en",
        ("Human agents are available", "English proof of purchase", "sign up with an email"),
        (("9:00", "9 am", "9am"), ("18:00", "6 pm", "6pm")),
    ),
    Case(
        "Do you ship to Hong Kong?",
        "en",
        ("Hong Kong or Macau", EN_FEES, EN_SPEED),
        (("not", "no", "cannot", "can't"),),
    ),
    # Not answerable from the passages given: the model should decline.
    Case(
        "門市的營業時間是幾點到幾點？", "zh", ("13 點前", "包裹到店後會保留 7 天", "黑貓宅急便宅配")
    ),
    Case("Do you offer gift wrapping?", "en", (EN_FEES, EN_SPEED, "same 7-day")),
]


def demo_passages() -> list[tuple[str, str, str]]:
    """(text, source, locator) of every FAQ answer and PDF chunk of the demo files."""
    from bot.settings import IngestSettings
    from ingest.chunking import chunk_items
    from ingest.loaders import load_file

    found = []
    for path in sorted(DEMO.iterdir()):
        result = load_file(path)
        for item in result.items:
            if item.is_faq:
                found.append((str(item.metadata["answer"]), result.source, item.locator))
        documents = [i for i in result.items if not i.is_faq]
        if documents:
            result.items = documents
            # Chunked as kefu ingests them, so the model sees passages of the real size.
            size, overlap = IngestSettings().chunk_size, IngestSettings().chunk_overlap
            chunks = chunk_items(result, chunk_size=size, chunk_overlap=overlap)
            found += [(c.text, c.source, c.locator) for c in chunks]
    return found


def _pick(phrase: str, pool: list[tuple[str, str, str]]):  # -> Passage
    from bot.answering.passages import Passage

    matches = [p for p in pool if phrase in p[0]]
    if not matches:
        raise SystemExit(f"no demo passage contains {phrase!r}; update eval/llm_local.py")
    text, source, locator = matches[0]
    return Passage(item_id=f"{source}#{locator}", text=text, source=source, locator=locator)


def _says(text: str, must_say: tuple[tuple[str, ...], ...]) -> bool:
    lowered = text.lower()
    return all(any(p.lower() in lowered for p in group) for group in must_say)


def main(argv: list[str] | None = None) -> int:
    from bot.answering.grounding import check_grounding
    from bot.answering.llm import Drafter, DraftFailed, chat_model
    from bot.answering.local_model import model_path
    from bot.settings import LLMSettings
    from knowledge.embedding import E5Embedder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--model-path", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--min-semantic", type=float, nargs="+", default=[0.8, 0.93])
    parser.add_argument("--out", type=Path, default=Path("eval/results/llm_local.json"))
    args = parser.parse_args(argv)

    settings = LLMSettings(
        mode="llamacpp",
        model_path=args.model_path or model_path(args.data_dir),
        timeout_s=args.timeout,
    )
    model = chat_model(settings)
    assert model is not None
    drafter = Drafter(model, timeout_s=args.timeout)
    embedder = E5Embedder()
    pool = demo_passages()

    started = time.perf_counter()
    drafter.draft("Say OK.", [_pick("NT$990 or more", pool)], "en")  # load and warm up
    load_s = time.perf_counter() - started
    print(f"model loaded and warmed up in {load_s:.1f} s; load average {os.getloadavg()}")

    rows: list[dict[str, Any]] = []
    for case in CASES:
        passages = [_pick(p, pool) for p in case.passages]
        answerable = bool(case.must_say)
        try:
            draft = drafter.draft(case.question, passages, case.language)
        except DraftFailed as failed:
            rows.append({"question": case.question, "failed": failed.reason})
            print(f"\n## {case.question}\nFAILED: {failed}")
            continue
        verdicts = {
            str(t): check_grounding(
                draft.text,
                passages,
                embedder,
                min_lexical=settings.min_lexical_support,
                min_semantic=t,
            )
            for t in args.min_semantic
        }
        row = {
            "question": case.question,
            "language": case.language,
            "answerable": answerable,
            "declined": draft.declined,
            "draft": draft.text,
            "raw": draft.raw,
            "seconds": round(draft.latency_ms / 1000, 2),
            "correct": (not draft.declined and _says(draft.text, case.must_say))
            if answerable
            else draft.declined,
            "grounded": {t: v.supported for t, v in verdicts.items()},
            "reasons": {t: v.reason for t, v in verdicts.items()},
            "sentences": {
                t: [(s.text, s.lexical, s.semantic, s.reason) for s in v.sentences]
                for t, v in verdicts.items()
            },
        }
        rows.append(row)
        print(f"\n## {case.question} ({case.language}, {'answerable' if answerable else 'not'})")
        print(f"draft ({row['seconds']} s): {draft.raw!r}")
        print(f"correct: {row['correct']}  grounded: {row['grounded']}  reasons: {row['reasons']}")
        for sentence in verdicts[str(args.min_semantic[-1])].sentences:
            print(f"   {sentence.reason:>18} lex {sentence.lexical:.2f} sem {sentence.semantic}"
                  f"  {sentence.text}")  # fmt: skip

    done = [r for r in rows if "failed" not in r]
    answered = [r for r in done if r["answerable"]]
    unanswerable = [r for r in done if not r["answerable"]]
    drafted = [r for r in done if not r["declined"]]
    summary = {
        "model": str(settings.model_path),
        "cases": len(rows),
        "failed": len(rows) - len(done),
        "load_and_warmup_s": round(load_s, 1),
        "seconds_per_answer_mean": round(statistics.mean(r["seconds"] for r in done), 1),
        "seconds_per_answer_median": round(statistics.median(r["seconds"] for r in done), 1),
        "answerable_correct": f"{sum(r['correct'] for r in answered)}/{len(answered)}",
        "answerable_declined_wrongly": f"{sum(r['declined'] for r in answered)}/{len(answered)}",
        "unanswerable_declined": f"{sum(r['declined'] for r in unanswerable)}/{len(unanswerable)}",
        "drafts_grounded": {
            t: f"{sum(r['grounded'][t] for r in drafted)}/{len(drafted)}"
            for t in map(str, args.min_semantic)
        },
        "correct_and_grounded": {
            t: f"{sum(r['correct'] and r['grounded'][t] for r in answered)}/{len(answered)}"
            for t in map(str, args.min_semantic)
        },
        "wrong_but_grounded": {
            t: f"{sum((not r['correct']) and r['grounded'][t] for r in drafted)}/{len(drafted)}"
            for t in map(str, args.min_semantic)
        },
        "load_average_at_end": os.getloadavg(),
    }
    print("\n" + json.dumps(summary, ensure_ascii=False, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"summary": summary, "cases": rows}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
