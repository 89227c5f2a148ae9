"""Where a customer's turn spends its CPU: the real services, in process, split by part.

    python -m eval.profile_turn [--dataset taipei_faq] [--turns 200] [--cprofile 30]

The services are built as `kefu serve` builds them (bot.services.build_services) on the
knowledge base eval.bench_chat serves (eval/.cache/bench-<dataset>), with the conversations in
a temporary SQLite file and the gate measuring every message without handing off (as in the
chat benchmark). Customers hold conversations of 3-5 messages drawn from the same questions as
eval.bench_chat (a quarter of them off-topic, none asked twice), one turn after another through
ConversationService.send.

CPU time (time.process_time: every thread of this process, so the encoders' own threads count)
is charged to the part that spends it, each part without the parts it calls: the encoders, the
vector search, keyword search, fusion, the refusal model, the gate, redaction, the store's
writes and reads, the order-question step, language detection; "the rest" is what none of them
covers. The same run then encodes the same questions with the encoders alone, so that the turn
can be set against the cost of its encodings. Wall time is left out: on a shared machine it
says more about the neighbours.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

REST = "the rest"


class Meter:
    """CPU seconds per part; a part's own time excludes the metered parts it calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()

    def _stack(self) -> list[list[float]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def metered(*args: Any, **kwargs: Any) -> Any:
            stack = self._stack()
            frame = [0.0]  # CPU seconds of metered parts called inside
            stack.append(frame)
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - started
                stack.pop()
                self.seconds[part] += spent - frame[0]
                self.calls[part] += 1
                if stack:
                    stack[-1][0] += spent

        metered.__wrapped__ = fn  # type: ignore[attr-defined]
        return metered

    def patch(self, stack: ExitStack, owner: Any, name: str, part: str) -> None:
        """Meter `owner.name` (an instance's method, or a module's function) until `stack`
        closes."""
        original = getattr(owner, name)
        in_dict = name in getattr(owner, "__dict__", {})
        setattr(owner, name, self.wrap(part, original))

        def restore() -> None:
            if in_dict:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

        stack.callback(restore)


def meter_services(meter: Meter, services: Any, stack: ExitStack) -> None:
    """Meter the parts of a turn on these services (and the module functions they call)."""
    import bot.answering.answerer as answerer_module
    import bot.conversation.service as service_module
    import knowledge.retriever as retriever_module

    conversations = services.conversations
    answerer = services.answerer
    retriever = services.retriever
    kb = services.kb
    for embedder in kb.embedders:
        meter.patch(stack, embedder, "embed_queries", f"encoder {embedder.name}")
    meter.patch(stack, kb.vectors, "query", "vector search")
    meter.patch(stack, kb.vectors, "vectors", "vector search")
    index = kb.keyword_index()
    meter.patch(stack, kb, "keyword_index", "keyword search")
    meter.patch(stack, index, "search", "keyword search")
    meter.patch(stack, retriever_module, "tokenize", "keyword search")
    meter.patch(stack, retriever, "fuse", "fusion")
    meter.patch(stack, retriever, "_across_languages", "fusion (across languages)")
    meter.patch(stack, kb.catalog, "get", "catalog reads")
    meter.patch(stack, kb.catalog, "revision", "catalog reads")
    meter.patch(stack, answerer_module, "signals", "refusal")
    meter.patch(stack, answerer.refusal, "judge", "refusal")
    meter.patch(stack, answerer_module, "group", "grouping candidates")
    if conversations.gate is not None:
        meter.patch(stack, conversations.gate, "before_answer", "gate")
        meter.patch(stack, conversations.gate, "after_answer", "gate")
    meter.patch(stack, service_module, "redact", "redaction")
    meter.patch(stack, service_module, "plain_text", "message checks")
    meter.patch(stack, service_module, "detect_customer_language", "language detection")
    if conversations.orders is not None:
        meter.patch(stack, conversations.orders, "step", "order step")
    meter.patch(stack, conversations, "_available", "availability")
    store = conversations.store
    meter.patch(stack, store, "append", "store writes")
    meter.patch(stack, store, "get", "store reads")
    meter.patch(stack, store, "events", "store reads")
    meter.patch(stack, conversations.feed, "notify", "live feed")
    meter.patch(stack, service_module, "past_turns", "conversation views")
    meter.patch(stack, service_module, "answer_context", "conversation views")


def build(dataset: str, root: Path, cache: Path, database: Path) -> tuple[Any, dict[str, Any]]:
    """The services `kefu serve` builds, on the chat benchmark's knowledge base."""
    from eval.bench_chat import knowledge_base

    folder, knowledge = knowledge_base(dataset, root, cache)
    os.environ["KEFU_DATA_DIR"] = str(folder)
    os.environ["KEFU_CONVERSATION__DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["KEFU_GATE__SHADOW"] = "true"  # measured on every message, nobody handed off
    from bot.services import build_services
    from bot.settings import Settings

    services = build_services(Settings())
    services.warm_up()
    return services, knowledge


def conversations(
    dataset: str, root: Path, turns: int, seed: int, warmup: int
) -> tuple[list[list[str]], list[str]]:
    """Conversations of 3-5 questions, `turns` in all, and `warmup` questions before them."""
    from eval.bench_chat import QuestionDeck, questions

    inside, outside = questions(dataset, root)
    deck = QuestionDeck(inside, outside, 0.25, seed)
    rng = random.Random(seed)
    first = [q.text for q in (deck.draw() for _ in range(warmup)) if q is not None]
    out: list[list[str]] = []
    left = turns
    while left > 0:
        talk = []
        for _ in range(min(rng.randint(3, 5), left)):
            question = deck.draw()
            if question is None:
                break
            talk.append(question.text)
        if not talk:
            break
        out.append(talk)
        left -= len(talk)
    return out, first


def run_turns(services: Any, talks: Sequence[Sequence[str]]) -> int:
    done = 0
    for talk in talks:
        conversation = services.conversations.start("profile")
        for text in talk:
            services.conversations.send(conversation.id, text)
            done += 1
    return done


def profile(
    dataset: str,
    turns: int,
    *,
    root: Path,
    cache: Path,
    seed: int = 13,
    cprofile_lines: int = 0,
) -> dict[str, Any]:
    from eval.bench_chat import time_encoders

    with tempfile.TemporaryDirectory(prefix="kefu-profile-turn-") as tmp:
        services, knowledge = build(dataset, root, cache, Path(tmp) / "conversations.db")
        try:
            talks, warmup = conversations(dataset, root, turns, seed, warmup=5)
            run_turns(services, [warmup])  # untimed: lazy loads happen here
            meter = Meter()
            profiler = cProfile.Profile(time.process_time) if cprofile_lines else None
            with ExitStack() as stack:
                meter_services(meter, services, stack)
                started = time.process_time()
                if profiler is not None:
                    profiler.enable()
                done = run_turns(services, talks)
                if profiler is not None:
                    profiler.disable()
                total = time.process_time() - started
            asked = [text for talk in talks for text in talk]
            encoders = time_encoders(asked, services.kb.embedders)
        finally:
            services.close()
    return report(dataset, knowledge, meter, total, done, encoders, profiler, cprofile_lines)


def report(
    dataset: str,
    knowledge: dict[str, Any],
    meter: Meter,
    total: float,
    turns: int,
    encoders: dict[str, Any],
    profiler: cProfile.Profile | None,
    cprofile_lines: int,
) -> dict[str, Any]:
    per_turn = {part: 1000 * s / turns for part, s in meter.seconds.items()}
    per_turn[REST] = 1000 * total / turns - sum(per_turn.values())
    encoder_ms = sum(v for k, v in per_turn.items() if k.startswith("encoder "))
    raw = encoders["encoder_cpu_ms_per_question"]
    out: dict[str, Any] = {
        "dataset": dataset,
        "knowledge_items": knowledge.get("chunks"),
        "turns": turns,
        "cpu_ms_per_turn": round(1000 * total / turns, 2),
        "parts_ms_per_turn": {
            k: round(v, 2) for k, v in sorted(per_turn.items(), key=lambda kv: -kv[1])
        },
        "calls_per_turn": {k: round(n / turns, 2) for k, n in sorted(meter.calls.items())},
        "encoders_in_turns_ms_per_turn": round(encoder_ms, 2),
        "raw_encoder_cpu_ms_per_question": raw,
        "turn_cpu_per_raw_encoding": round(1000 * total / turns / raw, 2) if raw else None,
        "raw_encoders": encoders["encoders"],
    }
    if profiler is not None:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(cprofile_lines)
        out["cprofile"] = buffer.getvalue()
    return out


def text_report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['dataset']}: {result['turns']} turns, {result['knowledge_items']} items; "
        f"CPU per turn {result['cpu_ms_per_turn']} ms (time.process_time, all threads)",
        "",
        f"{'part':<28}{'ms/turn':>9}{'share':>8}{'calls/turn':>12}",
    ]
    total = result["cpu_ms_per_turn"]
    for part, ms in result["parts_ms_per_turn"].items():
        calls = result["calls_per_turn"].get(part, "")
        lines.append(f"{part:<28}{ms:>9.2f}{ms / total:>8.1%}{calls!s:>12}")
    lines += [
        "",
        f"encoders inside the turns: {result['encoders_in_turns_ms_per_turn']} ms/turn; the "
        f"same questions encoded alone: {result['raw_encoder_cpu_ms_per_question']} ms each "
        f"(every encoder serving the question's language)",
        f"turn CPU / raw encoding CPU: {result['turn_cpu_per_raw_encoding']}",
    ]
    for name, e in result["raw_encoders"].items():
        lines.append(
            f"  {name}: p50 {e.get('p50_ms')} ms wall per query, serves "
            f"{e['questions_it_serves']} of the questions"
        )
    if "cprofile" in result:
        lines += ["", result["cprofile"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from eval.bench_chat import DATASETS, DEFAULT_CACHE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="taipei_faq")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cprofile", type=int, default=0, help="also print the N costliest "
                        "functions (cProfile, CPU time; slows Python down)")  # fmt: skip
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    from eval.datasets import default_root

    result = profile(
        args.dataset,
        args.turns,
        root=args.data_root or default_root(),
        cache=args.cache_dir,
        seed=args.seed,
        cprofile_lines=args.cprofile,
    )
    print(text_report(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
