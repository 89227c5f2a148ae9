"""The demo shop as customers ask it: answered right, near-domain and off-topic questions held
back, and the share handed to a person, through the real wiring of `kefu serve`.

The questions (eval/data/demo_questions.tsv) were written by hand in a customer's voice about
the demo shop (knowledge/demo/files): answerable ones name the items that answer them,
near-domain ones are on the shop's subject but not in its knowledge, off-topic ones are not
about the shop at all. The demo is ingested with the real models into a cached data dir, then
every question is the first message of a conversation of its own on the services that
`build_services` wires from the default settings (answerer, refusal model, gate).

    python -m eval.demo_shop [--data-dir DIR] [--questions TSV] [--out-dir DIR] [--no-gate]
    python -m eval.demo_shop --ranks   # where a right item ranks, hybrid and each signal

Reported per language: answered right (answered citing an expected item; target ≥ 90%),
the right item offered (not answered, but among the options offered to pick from),
near-domain not answered (refused, clarifying or any decision other than answered; ≥ 90%),
off-topic refused, and the share handed off (≤ 2%); every failure is listed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bot.conversation.events import BotTurn, Citation, Decision, TurnHandedOff
from bot.conversation.service import ConversationService
from eval.retrieval import DEFAULT_CACHE, DEFAULT_RESULTS

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
QUESTIONS = EVAL_DIR / "data" / "demo_questions.tsv"
DEMO_FILES = EVAL_DIR.parent / "knowledge" / "demo" / "files"
KINDS = ("answerable", "near_domain", "off_topic")
TARGETS = {"answered_right": 0.90, "near_held_back": 0.90, "handed_off": 0.02}


@dataclass(frozen=True)
class Question:
    text: str
    language: str  # the language it is written in: zh or en
    kind: str  # answerable, near_domain or off_topic
    expected: tuple[str, ...] = ()  # "shop_faq.xlsx#sheet=運送;row=5", "policy.pdf#page=1"


@dataclass
class Asked:
    question: Question
    decision: str
    reason: str
    cited: list[str] = field(default_factory=list)  # "source#locator" of each citation
    cited_title: str = ""  # what the customer was shown as the source
    trigger: str = ""  # the gate's trigger, when handed off
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.decision == Decision.ANSWERED and cites_expected(
            self.cited, self.question.expected
        )

    @property
    def offered_right(self) -> bool:
        """Not answered, but a right item among the options the bot offered to pick from
        (between close answers, or its closest items when unsure): one tap from the answer."""
        return self.decision == Decision.CLARIFYING and cites_expected(
            self.cited, self.question.expected
        )


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The questions of a set: `question<TAB>language<TAB>kind<TAB>expected`, `#` comments."""
    out: list[Question] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [line for line in lines if line.strip() and not line.startswith("#")]
    for number, line in enumerate(rows[1:], start=2):  # rows[0] is the header
        cells = line.split("\t")
        if len(cells) != 4 or cells[2] not in KINDS or cells[1] not in ("zh", "en"):
            raise ValueError(f"{path.name}: bad line {number}: {line!r}")
        text, language, kind, expected = cells
        keys = tuple(k.strip() for k in expected.split("|") if k.strip())
        if (kind == "answerable") != bool(keys):
            raise ValueError(f"{path.name}: line {number}: only answerable questions expect items")
        out.append(Question(text.strip(), language, kind, keys))
    return out


def citation_key(cited: Citation) -> str:
    return f"{cited.source}#{cited.locator}"


def _parts(locator: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in locator.split(";") if "=" in p)


def cites_expected(cited: Iterable[str], expected: Iterable[str]) -> bool:
    """Whether a citation is one of the expected items. An expected key names a file and the
    parts of its locator that matter: `policy.pdf#page=1` is any passage of page 1."""
    wanted = [(k.partition("#")[0], _parts(k.partition("#")[2])) for k in expected]
    for key in cited:
        source, _, locator = key.partition("#")
        parts = _parts(locator)
        for want_source, want_parts in wanted:
            if source == want_source and all(parts.get(k) == v for k, v in want_parts.items()):
                return True
    return False


def demo_service(data_dir: Path, *, gate: bool = True) -> tuple[ConversationService, bool]:
    """The conversation service over the ingested demo shop, wired by `build_services` from
    the default settings, with a conversation store in memory. The boolean says whether the
    gate is on: a gate that cannot load (its model being refitted) leaves the answerer, wired
    the same way, measured without it."""
    from bot.answering.answerer import Answerer
    from bot.answering.classifier import ClassifierSlot, refit_if_stale
    from bot.answering.refusal import RefusalModel
    from bot.conversation.store import MemoryConversationStore
    from bot.services import build_embedders, build_services, ingest_options, retrieval_config
    from bot.settings import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.ingestion import ingest_paths
    from knowledge.retriever import HybridRetriever

    settings = Settings(data_dir=data_dir)
    embedders = build_embedders(settings)
    try:
        services = build_services(settings, embedders, store=MemoryConversationStore())
        kb, service = services.kb, services.conversations
    except Exception as exc:
        log.warning("demo_shop.gate.unavailable: %s", exc)
        kb = KnowledgeBase.open(data_dir, embedders, chroma_url=settings.chroma_url)
        retriever = HybridRetriever(kb, retrieval_config(settings, embedders))
        answerer = Answerer(
            retriever, RefusalModel.load(data_dir), classifier=ClassifierSlot(data_dir)
        )
        service = ConversationService(MemoryConversationStore(), answerer)
    report = ingest_paths(kb, [DEMO_FILES], ingest_options(settings))
    if not report.ok:
        raise SystemExit(f"the demo shop did not ingest: {[f.error for f in report.failed]}")
    refit_if_stale(kb, data_dir)  # as `kefu ingest` does
    if not gate:
        service.gate = None  # the answerer's own decisions, nothing handed off
    return service, service.gate is not None


def ask(service: ConversationService, question: Question) -> Asked:
    """The question as the first message of a conversation of its own."""
    conversation = service.start("eval")
    started = time.perf_counter()
    result = service.send(conversation.id, question.text)
    seconds = time.perf_counter() - started
    turn = result.turn.event if result.turn is not None else None
    if not isinstance(turn, BotTurn):
        return Asked(question, "none", "no turn", seconds=seconds)
    return Asked(
        question,
        turn.decision.value,
        turn.reason,
        [citation_key(c) for c in turn.citations],
        turn.citations[0].title if turn.citations else "",
        turn.trigger if isinstance(turn, TurnHandedOff) else "",
        seconds,
    )


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


def summarize(asked: Sequence[Asked]) -> dict[str, dict[str, Any]]:
    """Per language and for all: the shares of the report."""
    out: dict[str, dict[str, Any]] = {}
    for language in ("zh", "en", "all"):
        mine = [a for a in asked if language in ("all", a.question.language)]
        answerable = [a for a in mine if a.question.kind == "answerable"]
        near = [a for a in mine if a.question.kind == "near_domain"]
        off = [a for a in mine if a.question.kind == "off_topic"]
        out[language] = {
            "answerable": len(answerable),
            "answered_right": _share(sum(a.right for a in answerable), len(answerable)),
            "offered_right": _share(sum(a.offered_right for a in answerable), len(answerable)),
            "answered_wrong": _share(
                sum(a.decision == Decision.ANSWERED and not a.right for a in answerable),
                len(answerable),
            ),
            "near_domain": len(near),
            "near_held_back": _share(sum(a.decision != Decision.ANSWERED for a in near), len(near)),
            "off_topic": len(off),
            "off_refused": _share(sum(a.decision == Decision.REFUSED for a in off), len(off)),
            "off_held_back": _share(sum(a.decision != Decision.ANSWERED for a in off), len(off)),
            "questions": len(mine),
            "handed_off": _share(sum(a.decision == Decision.HANDED_OFF for a in mine), len(mine)),
            "decisions": dict(
                Counter(f"{a.question.kind}:{a.decision}" for a in mine).most_common()
            ),
        }
    return out


def failures(asked: Sequence[Asked]) -> list[Asked]:
    """Answerable not answered right, near-domain or off-topic answered, any handoff."""
    return [
        a
        for a in asked
        if (a.question.kind == "answerable" and not a.right)
        or (a.question.kind != "answerable" and a.decision == Decision.ANSWERED)
        or a.decision == Decision.HANDED_OFF
    ]


def first_places(service: ConversationService, questions: Sequence[Question]) -> dict[str, Any]:
    """How often a right item is the hybrid ranking's first and in its top 5, and each
    signal's own, over the answerable questions (searched as the answerer searches them)."""
    from knowledge.courtesy import without_courtesy

    retriever = service.answerer.retriever
    answerable = [q for q in questions if q.kind == "answerable"]
    first: Counter[str] = Counter()
    top5: Counter[str] = Counter()
    missed: list[dict[str, Any]] = []

    def rank(keys: Sequence[str], expected: Sequence[str]) -> int | None:
        return next((i for i, k in enumerate(keys, 1) if cites_expected([k], expected)), None)

    for q in answerable:
        text = without_courtesy(q.text)
        hits = retriever.search(text, 10)
        ranks = {"hybrid": rank([f"{h.source}#{h.locator}" for h in hits], q.expected)}
        for signal, ranking in retriever.signals(text).items():
            stored = retriever.kb.catalog.get([doc for doc, _ in ranking[:10]])
            keys = [
                f"{stored[d].source}#{stored[d].locator}" for d, _ in ranking[:10] if d in stored
            ]
            ranks[signal] = rank(keys, q.expected)
        for signal, r in ranks.items():
            first[signal] += r == 1
            top5[signal] += r is not None and r <= 5
        if ranks["hybrid"] != 1:
            missed.append({"question": q.text, "ranks": ranks})
    return {
        "answerable": len(answerable),
        "first": dict(first),
        "top5": dict(top5),
        "missed": missed,
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def table(summary: dict[str, dict[str, Any]], gate: bool) -> str:
    lines = [
        "| language | answered right (≥ 90%) | right item offered | answered wrong "
        "| near-domain held back (≥ 90%) | off-topic refused | handed off (≤ 2%) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for language, s in summary.items():
        lines.append(
            f"| {language} | {_pct(s['answered_right'])} of {s['answerable']} "
            f"| {_pct(s['offered_right'])} | {_pct(s['answered_wrong'])} "
            f"| {_pct(s['near_held_back'])} of {s['near_domain']} "
            f"| {_pct(s['off_refused'])} of {s['off_topic']} "
            f"| {_pct(s['handed_off']) if gate else 'gate off'} of {s['questions']} |"
        )
    return "\n".join(lines)


def _failure_line(a: Asked) -> str:
    q = a.question
    shown = a.cited[0] if a.cited else "–"
    expected = " or ".join(q.expected) if q.expected else "not to be answered"
    trigger = f" ({a.trigger})" if a.trigger else ""
    return (
        f"| {q.language} | {q.kind} | {q.text} | {a.decision}{trigger} · {a.reason} "
        f"| {shown} | {expected} |"
    )


def markdown(
    summary: dict[str, dict[str, Any]], asked: Sequence[Asked], gate: bool, seconds: float
) -> str:
    failed = failures(asked)
    parts = [
        "# The demo shop, as customers ask it",
        "",
        f"`python -m eval.demo_shop`: {len(asked)} hand-written questions "
        "(`eval/data/demo_questions.tsv`) on the demo knowledge base, each the first message "
        "of a conversation on the services of `kefu serve` (default settings, real models"
        + (", the handoff gate on" if gate else "; the handoff gate off")
        + f"). {seconds:.0f} s in all.",
        "",
        "- **answered right**: answered, citing one of the items that answer it;",
        "- **right item offered**: not answered, but one of the items that answer it was among "
        "the options the bot offered to pick from (close answers, or its closest items when "
        "unsure), apart from answered right;",
        "- **near-domain held back**: on the shop's subject but not in its knowledge, and not "
        "answered (refused, clarifying, or any other decision than answered);",
        "- **off-topic refused**: not about the shop, refused;",
        "- **handed off**: of all questions, those the gate passed to a person.",
        "",
        table(summary, gate),
        "",
        "Decisions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(summary["all"]["decisions"].items())),
        "",
        f"## Failures ({len(failed)})",
        "",
        "| lang | kind | question | decision · reason | cited | expected |",
        "|---|---|---|---|---|---|",
        *(_failure_line(a) for a in failed),
        "",
    ]
    return "\n".join(parts)


def run(
    questions: Sequence[Question], data_dir: Path, *, gate: bool = True
) -> tuple[list[Asked], bool, float]:
    service, gate = demo_service(data_dir, gate=gate)
    started = time.perf_counter()
    asked = [ask(service, q) for q in questions]
    return asked, gate, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_CACHE / "demo_shop" / "data")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--no-gate", action="store_true", help="measure the answerer alone (nothing handed off)"
    )
    parser.add_argument(
        "--ranks",
        action="store_true",
        help="only where a right item ranks: first and top 5, hybrid and each signal",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    questions = load_questions(args.questions)
    if args.ranks:
        service, _ = demo_service(args.data_dir, gate=False)
        found = first_places(service, questions)
        for signal in sorted(found["first"], key=lambda s: (s != "hybrid", s)):
            print(
                f"{signal}: first {found['first'][signal]}, top 5 {found['top5'][signal]} "
                f"of {found['answerable']}"
            )
        for m in found["missed"]:
            ranks = ", ".join(f"{s} {r}" for s, r in m["ranks"].items())
            print(f"  {m['question']}: {ranks}")
        return 0
    asked, gate, seconds = run(questions, args.data_dir, gate=not args.no_gate)
    summary = summarize(asked)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = "demo_shop_no_gate" if args.no_gate else "demo_shop"
    (args.out_dir / f"{name}.md").write_text(
        markdown(summary, asked, gate, seconds), encoding="utf-8"
    )
    (args.out_dir / f"{name}.json").write_text(
        json.dumps(
            {"summary": summary, "gate": gate, "asked": [asdict(a) for a in asked]},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    print(table(summary, gate))
    failed = failures(asked)
    print(f"\n{len(failed)} failures (all in {args.out_dir / (name + '.md')}):")
    for a in failed:
        print(
            f"  [{a.question.language} {a.question.kind}] {a.question.text} → {a.decision}"
            f" ({a.trigger or a.reason}) {a.cited[0] if a.cited else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
