"""Chat benchmark: a real `kefu serve` under N concurrent customers, against the raw encoders.

Each simulated customer starts a conversation over HTTP, sends 3-5 real questions (ones the
knowledge base answers and off-topic ones it must refuse), waits for each reply (plus an
optional think time) and then starts the next conversation. The report gives turn latency as
the customer sees it (p50/p95/p99), turns/s, the server's memory and CPU, and the same run's
single-query encoder time, so that turns/s can be set against what the encoders alone allow.

    python -m eval.bench_chat [--dataset clinc150|taipei_faq ...] [--customers 20]
        [--turns 3-5] [--think 0] [--seconds 60 | --conversations N]
    python -m eval.bench_chat --targets [--dataset taipei_faq]   (make bench)

With --targets one run measures each speed target against the same run's figures (see
`target_run`): one customer's p50, 20 customers' p95 at a typing pace, turns/s without pause
÷ the raw encoder rate, two workers' turns/s ÷ one's, and each worker's memory.

- clinc150: knowledge = the 15,000 CLINC150 train utterances (as in eval.refusal); customers
  ask its test utterances, oos_test ones as the off-topic share.
- taipei_faq: knowledge = the Taipei City FAQ (as in eval.refusal); customers ask its
  questions, crosswoz_utterances travel questions as the off-topic share.

The knowledge base is served from eval/.cache/bench-<dataset>, a copy of eval.refusal's cache
when that one is complete (else built with the same code); the server's conversation store goes
to a temporary SQLite file. No question is asked twice (the server answers a question it has
seen from its cache): the load ends early when the questions run out, unless --allow-repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import random
import resource
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Spinning OpenMP workers would make the encoders' timings about the neighbours (see
# knowledge/embedding.py); the server gets the same setting below.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = EVAL_DIR / ".cache"
DEFAULT_OUT = EVAL_DIR / "results" / "bench_chat.json"
DATASETS = ("clinc150", "taipei_faq")
CHANNEL = "bench"
WARMUP_CHANNEL = "bench-warmup"
VALID_STATUSES = frozenset({"answered", "clarifying", "refused"})
REQUEST_TIMEOUT_S = 120.0
# What the chat should achieve on two cores (the brief of this benchmark).
TARGETS = {"customers": 20, "p50_ms": 30.0, "p95_ms": 100.0, "turns_per_raw_rate": 0.8}


# ---- questions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    text: str
    in_scope: bool  # False: off-topic, the bot should refuse it


def questions(name: str, root: Path) -> tuple[list[str], list[str]]:
    """(in-scope, off-topic) question texts of a data set, without duplicates."""
    if name == "clinc150":
        data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        inside = [text for text, _ in data["test"]]
        outside = [text for text, _ in data["oos_test"]]
    elif name == "taipei_faq":
        from eval.refusal import _lines

        lines = (root / "taipei_faq" / "taipei_faq.jsonl").read_text(encoding="utf-8")
        records = [json.loads(line) for line in lines.splitlines() if line.strip()]
        # the rows eval.refusal puts in the knowledge base: a question and a real answer
        inside = [
            r["question"].strip()
            for r in records
            if (r.get("question") or "").strip() and len((r.get("answer") or "").strip()) >= 2
        ]
        outside = _lines(root / "crosswoz_utterances")
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return _unique(inside), _unique(outside)


def _unique(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


class QuestionDeck:
    """Questions dealt in a seeded random order, a set share of them off-topic.

    Each pile is dealt without repeats. When a pile runs out the deck is exhausted (`draw`
    returns None), or, with `allow_repeats`, the pile is reshuffled and `repeats` counts what
    is dealt again (the server answers a repeated question from its cache, so fast).
    """

    def __init__(
        self,
        in_scope: Sequence[str],
        off_topic: Sequence[str],
        off_topic_share: float = 0.25,
        seed: int = 13,
        allow_repeats: bool = False,
    ) -> None:
        if not in_scope and off_topic_share < 1:
            raise ValueError("no in-scope questions to ask")
        if not off_topic and off_topic_share > 0:
            raise ValueError("no off-topic questions to ask")
        self.off_topic_share = off_topic_share
        self.allow_repeats = allow_repeats
        self._rng = random.Random(seed)
        self._piles = {True: list(in_scope), False: list(off_topic)}
        self._next = {True: 0, False: 0}
        self._passes = {True: 0, False: 0}
        for pile in self._piles.values():
            self._rng.shuffle(pile)
        self._queue: deque[Question] = deque()
        self.dealt = 0
        self.repeats = 0
        self.exhausted = False

    def peek(self, n: int) -> list[Question]:
        """The next n questions still to be dealt (fewer if the deck runs out)."""
        while len(self._queue) < n and (question := self._deal()) is not None:
            self._queue.append(question)
        return list(itertools.islice(self._queue, n))

    def draw(self) -> Question | None:
        """The next question; None once the deck is exhausted."""
        question = self._queue.popleft() if self._queue else self._deal()
        if question is not None:
            self.dealt += 1
        return question

    def _deal(self) -> Question | None:
        if self.exhausted:
            return None
        in_scope = self._rng.random() >= self.off_topic_share
        pile = self._piles[in_scope]
        if self._next[in_scope] == len(pile):
            if not self.allow_repeats:
                self.exhausted = True
                return None
            self._rng.shuffle(pile)
            self._next[in_scope] = 0
            self._passes[in_scope] += 1
        text = pile[self._next[in_scope]]
        self._next[in_scope] += 1
        self.repeats += self._passes[in_scope] > 0
        return Question(text, in_scope)


# ---- the server -------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server behind {url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.3)


@contextmanager
def serve(
    data_dir: Path,
    database_url: str,
    log_path: Path,
    timeout_s: float = 600,
    settings: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`kefu serve --data-dir data_dir` as a user runs it, with its conversations elsewhere
    (`settings`: more KEFU_ variables for it)."""
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "TOKENIZERS_PARALLELISM": "false",
        "KEFU_CONVERSATION__DATABASE_URL": database_url,
        # every simulated customer comes from 127.0.0.1, faster than any person types
        "KEFU_ACCESS__CUSTOMER_RATE_LIMIT": "1000000/minute",
        "KEFU_ACCESS__CONVERSATION_RATE_LIMIT": "1000000/minute",
        # the gate measures every message but hands nobody off: every message is a bot turn
        "KEFU_GATE__SHADOW": "true",
        **(settings or {}),
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--data-dir", str(data_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        try:
            wait_until_up(f"{server.url}/api/health", process, timeout_s)
            yield server
        except BaseException:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            log.error("server log (%s), last lines:\n%s", log_path, tail)
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


# ---- what the processes use -------------------------------------------------------------------


def process_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak so far) of a process, in MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)  # kB
    return found


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (every core, every process) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """The machine's load, as `uptime` prints it."""
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


class MemorySampler:
    """The highest VmRSS of a process seen while it runs, sampled every `every_s`."""

    def __init__(self, pid: int, every_s: float = 0.5) -> None:
        self.pid = pid
        self.every_s = every_s
        self.peak_rss_mb = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = process_memory_mb(self.pid).get("VmRSS", 0.0)
            except OSError:
                return
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
            self.samples += 1
            self._stop.wait(self.every_s)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ---- the customers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    customers: int = 20
    turns: tuple[int, int] = (3, 5)  # messages per conversation, drawn uniformly
    think_s: float = 0.0  # mean pause before each further message (uniform 0.5x-1.5x)
    seconds: float | None = 60.0  # no new message after this long ...
    conversations: int | None = None  # ... or this many conversations in all
    seed: int = 13


@dataclass(frozen=True)
class TurnRecord:
    customer: int
    conversation: int
    turn: int  # 1-based within its conversation
    in_scope: bool
    http_status: int  # 0: no response
    status: str | None  # the bot's turn status
    seconds: float  # message sent → reply received, as the customer sees it
    server_ms: float | None  # the answerer's own latency_ms from the reply
    finished_at: float  # seconds since the load began
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.status in VALID_STATUSES


@dataclass
class LoadRun:
    plan: LoadPlan
    turns: list[TurnRecord] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)  # POST /api/conversations
    start_errors: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    questions_ran_out: bool = False  # the load ended early: every question was asked


def parse_turns(value: str) -> tuple[int, int]:
    """'4' → (4, 4); '3-5' → (3, 5)."""
    low, _, high = value.partition("-")
    turns = (int(low), int(high or low))
    if turns[0] < 1 or turns[1] < turns[0]:
        raise ValueError(f"turns must be N or A-B with 1 <= A <= B, not {value!r}")
    return turns


def drive(url: str | Sequence[str], deck: QuestionDeck, plan: LoadPlan) -> LoadRun:
    """Run the plan's customers against the server at `url` until time or conversations end.
    Given several servers' URLs (workers), customer n talks to server n mod their number."""
    if plan.seconds is None and plan.conversations is None:
        raise ValueError("a load plan needs seconds or conversations")
    return asyncio.run(_drive([url] if isinstance(url, str) else list(url), deck, plan))


async def _drive(urls: list[str], deck: QuestionDeck, plan: LoadPlan) -> LoadRun:
    import httpx

    run = LoadRun(plan)
    numbers = itertools.count()
    began = time.perf_counter()
    deadline = None if plan.seconds is None else began + plan.seconds

    def over() -> bool:
        return deadline is not None and time.perf_counter() >= deadline

    async with AsyncExitStack() as stack:
        clients = []
        for n, url in enumerate(urls):
            # as many connections as the customers this server gets
            mine = len(range(n, plan.customers, len(urls))) or 1
            limits = httpx.Limits(max_connections=mine, max_keepalive_connections=mine)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S)
                )
            )

        async def customer(who: int) -> None:
            client = clients[who % len(clients)]
            rng = random.Random(plan.seed * 1000 + who)
            while not over():
                number = next(numbers)
                if plan.conversations is not None and number >= plan.conversations:
                    return
                t = time.perf_counter()
                try:
                    started = await client.post("/api/conversations", json={"channel": CHANNEL})
                except httpx.TransportError as e:
                    run.start_errors.append(f"{type(e).__name__}: {e}")
                    return  # the server is gone; the report shows it
                run.start_seconds.append(time.perf_counter() - t)
                if started.status_code != 201:
                    run.start_errors.append(f"HTTP {started.status_code}: {started.text[:200]}")
                    continue
                conversation_id = started.json()["id"]
                token = started.json()["customer_token"]
                run.conversation_ids.append(conversation_id)
                for turn in range(1, rng.randint(*plan.turns) + 1):
                    if turn > 1 and plan.think_s > 0:
                        await asyncio.sleep(plan.think_s * rng.uniform(0.5, 1.5))
                    if over():
                        return
                    question = deck.draw()
                    if question is None:
                        run.questions_ran_out = True
                        return
                    run.turns.append(
                        await send_message(
                            client, conversation_id, token, question, who, number, turn, began
                        )
                    )

        await asyncio.gather(*(customer(who) for who in range(plan.customers)))
    run.wall_seconds = time.perf_counter() - began
    return run


async def send_message(
    client: Any,
    conversation_id: str,
    token: str,
    question: Question,
    who: int,
    number: int,
    turn: int,
    began: float,
) -> TurnRecord:
    """One customer message and the bot's reply, timed as the customer sees it."""
    import httpx

    t = time.perf_counter()
    status_code, status, server_ms, error = 0, None, None, None
    try:
        reply = await client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": question.text},
            headers={"Authorization": f"Bearer {token}"},
        )
        status_code = reply.status_code
        if status_code == 200:
            body = reply.json()
            status, server_ms = body.get("status"), body.get("latency_ms")
            if status not in VALID_STATUSES:
                error = f"unexpected status {status!r}"
        else:
            error = reply.text[:200]
    except httpx.HTTPError as e:
        error = f"{type(e).__name__}: {e}"
    done = time.perf_counter()
    return TurnRecord(
        who, number, turn, question.in_scope, status_code, status, done - t, server_ms,
        done - began, error,
    )  # fmt: skip


def warm_up(url: str, deck: QuestionDeck, turns: int) -> list[float]:
    """One untimed conversation first: the server loads what it loads lazily (the language
    detector, jieba's dictionary) on its first messages. Returns those turns' seconds."""
    import httpx

    seconds = []
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        started = client.post("/api/conversations", json={"channel": WARMUP_CHANNEL})
        started.raise_for_status()
        conversation_id = started.json()["id"]
        opened = {"Authorization": f"Bearer {started.json()['customer_token']}"}
        for _ in range(turns):
            question = deck.draw()
            if question is None:
                break
            t = time.perf_counter()
            client.post(
                f"/api/conversations/{conversation_id}/messages",
                json={"text": question.text},
                headers=opened,
            ).raise_for_status()
            seconds.append(time.perf_counter() - t)
    return seconds


# ---- the encoders alone -----------------------------------------------------------------------


def server_embedders() -> list[Any]:
    """The encoders `kefu serve` builds from the same settings (by default e5 and MiniLM on
    the default backend, KEFU_EMBEDDING__BACKEND)."""
    from bot.services import build_embedders
    from bot.settings import Settings

    return list(build_embedders(Settings()))


def time_encoders(texts: Sequence[str], embedders: Sequence[Any]) -> dict[str, Any]:
    """Single-query time of each encoder, one question at a time, and the derived raw encoder
    rate: questions/s if a turn did nothing but encode its question with every encoder that
    serves the question's language (as HybridRetriever.signals does). Also the CPU time that
    encoding takes (all threads of this process), which neighbours on the machine disturb less
    than wall time."""
    from ingest.language import detect_language
    from knowledge.embedding import serves

    per_encoder: dict[str, Any] = {}
    needed = [0.0] * len(texts)  # encoder seconds the server spends on each question
    needed_cpu = 0.0
    for embedder in embedders:
        embedder.embed_queries(["warm up 暖身"])
        seconds = []
        for i, text in enumerate(texts):
            cpu, t = time.process_time(), time.perf_counter()
            embedder.embed_queries([text])
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
            seconds.append(elapsed)
            if serves(embedder, detect_language(text)):
                needed[i] += elapsed
                needed_cpu += cpu
        served = sum(1 for text in texts if serves(embedder, detect_language(text)))
        per_encoder[embedder.name] = {
            **percentiles(seconds),
            "queries_per_s": round(len(seconds) / sum(seconds), 1),
            "questions_it_serves": served,
        }
    return {
        "questions": len(texts),
        "encoders": per_encoder,
        "encoder_ms_per_question": round(1000 * sum(needed) / len(texts), 2),
        "encoder_cpu_ms_per_question": round(1000 * needed_cpu / len(texts), 2),
        "raw_encoder_rate": round(len(texts) / sum(needed), 2),
    }


def both_timings(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The encoders timed before and after the load phase, and the rate over both (the
    machine's other load can change during a run; the two show by how much)."""
    per_question = (before["encoder_ms_per_question"] + after["encoder_ms_per_question"]) / 2
    cpu = (before["encoder_cpu_ms_per_question"] + after["encoder_cpu_ms_per_question"]) / 2
    return {
        "before": before,
        "after": after,
        "encoder_ms_per_question": round(per_question, 2),
        "encoder_cpu_ms_per_question": round(cpu, 2),
        "raw_encoder_rate": round(1000 / per_question, 2),
    }


# ---- the figures ------------------------------------------------------------------------------


def percentiles(seconds: Sequence[float], points: Sequence[int] = (50, 95, 99)) -> dict:
    if not seconds:
        return {"n": 0}
    values = np.asarray(seconds, dtype=np.float64) * 1000
    out: dict[str, Any] = {"n": len(values)}
    for p in points:
        out[f"p{p}_ms"] = round(float(np.percentile(values, p)), 1)
    out["mean_ms"] = round(float(values.mean()), 1)
    out["max_ms"] = round(float(values.max()), 1)
    return out


def summarize(run: LoadRun) -> dict[str, Any]:
    """The load phase's figures from its turn records."""
    ok = [t for t in run.turns if t.ok]
    by_kind: dict[str, Counter[str]] = {"in_scope": Counter(), "off_topic": Counter()}
    for t in ok:
        by_kind["in_scope" if t.in_scope else "off_topic"][t.status or "?"] += 1
    errors = Counter(t.error or f"HTTP {t.http_status}" for t in run.turns if not t.ok)
    return {
        "plan": {**asdict(run.plan), "turns": list(run.plan.turns)},
        "conversations": len(run.conversation_ids),
        "turns": len(run.turns),
        "turns_ok": len(ok),
        "turns_failed": len(run.turns) - len(ok),
        "errors": dict(errors.most_common(5)),
        "start_errors": dict(Counter(run.start_errors).most_common(5)),
        "wall_seconds": round(run.wall_seconds, 2),
        "questions_ran_out": run.questions_ran_out,
        "turns_per_s": round(len(ok) / run.wall_seconds, 2) if run.wall_seconds else 0.0,
        "turn_latency": percentiles([t.seconds for t in ok]),
        "answerer_latency": percentiles(
            [t.server_ms / 1000 for t in ok if t.server_ms is not None]
        ),
        "start_latency": percentiles(run.start_seconds),
        "statuses": {kind: dict(c) for kind, c in by_kind.items()},
    }


def turn_log(store: Any, conversation_ids: Sequence[str]) -> dict[str, Any]:
    """What the server logged for these conversations: bot turns, and how many of them
    retrieved twice (a follow-up: the message alone and completed with the last question)."""
    from bot.conversation.events import BotTurn

    wanted = set(conversation_ids)
    turns = follow_ups = 0
    for _, event in store.log():
        if event.conversation_id in wanted and isinstance(event, BotTurn):
            turns += 1
            follow_ups += "follow_up" in (event.details or {})
    return {
        "bot_turns_logged": turns,
        "follow_up_turns": follow_ups,
        "retrievals_per_turn": round((turns + follow_ups) / turns, 3) if turns else None,
    }


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Each target: the measured value and whether it is met."""
    latency = result["load"]["turn_latency"]
    rate = result["encoders"]["raw_encoder_rate"]
    ratio = result["load"]["turns_per_s"] / rate if rate else None
    return {
        "customers": result["load"]["plan"]["customers"],
        "p50_ms": {"value": latency.get("p50_ms"), "target": TARGETS["p50_ms"]},
        "p95_ms": {"value": latency.get("p95_ms"), "target": TARGETS["p95_ms"]},
        "turns_per_raw_rate": {
            "value": None if ratio is None else round(ratio, 3),
            "target": TARGETS["turns_per_raw_rate"],
        },
        "met": {
            "p50_ms": latency.get("p50_ms", 1e9) <= TARGETS["p50_ms"],
            "p95_ms": latency.get("p95_ms", 1e9) <= TARGETS["p95_ms"],
            "turns_per_raw_rate": ratio is not None and ratio >= TARGETS["turns_per_raw_rate"],
        },
    }


# ---- the knowledge base -----------------------------------------------------------------------


def knowledge_base(name: str, root: Path, cache: Path) -> tuple[Path, dict[str, Any]]:
    """The folder to serve: eval/.cache/bench-<name>, seeded with a copy of eval.refusal's
    cache when that one is complete, and synced with the set's chunks (a no-op when whole)."""
    from eval.datasets import EvalSet
    from eval.refusal import SETS
    from eval.retrieval import build_kb, default_embedders

    chosen = SETS[name](root)
    # eval.refusal's source name, so that a copy of its cache is already in step
    evalset = EvalSet(f"refusal-{name}", chosen.language, chosen.chunks, [])
    folder = cache / f"bench-{name}"
    seeded_from = None
    refusal_cache = cache / evalset.name
    if not folder.exists() and _finished(refusal_cache, evalset.name, len(evalset.chunks)):
        log.info("%s: copying %s", name, refusal_cache)
        snapshot(refusal_cache, folder)
        seeded_from = str(refusal_cache)
    kb, build = build_kb(evalset, default_embedders(), folder)
    chunks = kb.catalog.count()
    del kb  # the server opens it next; this process only read it
    return folder, {"folder": str(folder), "seeded_from": seeded_from, "chunks": chunks, **build}


def _finished(folder: Path, source: str, chunks: int) -> bool:
    """Did a build of `source` into `folder` finish (its catalog holds every chunk, status ok)?
    Read-only: the folder may belong to a running process."""
    from knowledge.catalog import SQLITE_FILE

    path = folder / SQLITE_FILE
    if not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute(
                "SELECT status, items FROM knowledge_sources WHERE name=?", (source,)
            ).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "ok" and row[1] == chunks


def snapshot(src: Path, dst: Path) -> None:
    """Copy a knowledge base folder without writing to it: SQLite files through the backup
    API (a consistent copy, WAL included), everything else as files."""
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in sorted(src.rglob("*")):
        target = tmp / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name.endswith(("-wal", "-shm", "-journal")):
            continue
        elif path.suffix == ".sqlite3":
            target.parent.mkdir(parents=True, exist_ok=True)
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    tmp.rename(dst)


# ---- one run ----------------------------------------------------------------------------------


def run_dataset(
    name: str,
    plan: LoadPlan,
    *,
    root: Path,
    cache: Path,
    off_topic_share: float,
    raw_queries: int,
    warmup_turns: int,
    allow_repeats: bool = False,
) -> dict[str, Any]:
    folder, knowledge = knowledge_base(name, root, cache)
    inside, outside = questions(name, root)
    deck = QuestionDeck(inside, outside, off_topic_share, plan.seed, allow_repeats)
    with tempfile.TemporaryDirectory(prefix="kefu-bench-chat-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'conversations.db'}"
        started = time.perf_counter()
        with serve(folder, database_url, Path(tmp) / "server.log") as server:
            startup_s = time.perf_counter() - started
            log.info(
                "%s: server pid %d up at %s in %.1f s", name, server.pid, server.url, startup_s
            )
            memory_idle = process_memory_mb(server.pid)
            warmup = warm_up(server.url, deck, warmup_turns)
            # the encoders alone, on the first questions the customers will ask
            raw_texts = [q.text for q in deck.peek(raw_queries)]
            embedders = server_embedders()
            before = time_encoders(raw_texts, embedders)
            log.info("%s: raw encoder rate %.1f questions/s", name, before["raw_encoder_rate"])
            load_before = load_average()
            cpu_server, cpu_machine = process_cpu_seconds(server.pid), machine_cpu_seconds()
            cpu_self = self_cpu_seconds()
            log.info("%s: %d customers, %s", name, plan.customers, load_before)
            with MemorySampler(server.pid) as sampler:
                run = drive(server.url, deck, plan)
            cpu_server = process_cpu_seconds(server.pid) - cpu_server
            cpu_machine = machine_cpu_seconds() - cpu_machine
            cpu_self = self_cpu_seconds() - cpu_self
            load_after = load_average()
            memory_end = process_memory_mb(server.pid)
            encoders = both_timings(before, time_encoders(raw_texts, embedders))
            from bot.conversation.sql import SqlConversationStore

            store = SqlConversationStore(database_url)
            try:
                logged = turn_log(store, run.conversation_ids)
            finally:
                store.close()
    load = summarize(run)
    wall = run.wall_seconds or 1.0
    result = {
        "dataset": name,
        "knowledge": knowledge,
        "questions": {
            "in_scope": len(inside),
            "off_topic": len(outside),
            "off_topic_share": off_topic_share,
            "dealt": deck.dealt,
            "repeats": deck.repeats,
        },
        "server": {
            "startup_s": round(startup_s, 1),
            "warmup_turns_ms": [round(s * 1000, 1) for s in warmup],
            "rss_idle_mb": memory_idle.get("VmRSS"),
            "rss_peak_sampled_mb": sampler.peak_rss_mb,
            "rss_end_mb": memory_end.get("VmRSS"),
            "hwm_mb": memory_end.get("VmHWM"),
            "cpu_s": round(cpu_server, 1),
            "cpu_ms_per_turn": round(1000 * cpu_server / max(load["turns_ok"], 1), 1),
            "cores_used": round(cpu_server / wall, 2),
        },
        "machine": {
            "cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
            "bench_process_cores": round(cpu_self / wall, 2),
            # what everything else on the machine used meanwhile (other people's work)
            "other_processes_cores": round(max(cpu_machine - cpu_server - cpu_self, 0) / wall, 2),
        },
        "encoders": encoders,
        "load": load,
        "log": logged,
    }
    result["targets"] = verdict(result)
    return result


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- the targets, in one run ------------------------------------------------------------

# What a turn should achieve on two cores, each figure set against the same run's own.
SPEED_TARGETS = {
    "single_p50_ms": 30.0,  # one customer alone, turn p50 over HTTP
    "typing_p95_ms": 100.0,  # 20 customers at a typing pace, turn p95
    "busy_per_raw_rate": 0.9,  # 20 customers without pause: turns/s ÷ the raw encoder rate
    "two_workers_per_one": 0.95,  # two workers' turns/s ÷ one's: no loss beyond the noise
}


@dataclass(frozen=True)
class TargetPlan:
    """The phases `make bench` runs against one server and then two workers."""

    single_conversations: int = 40  # one customer, no pause: about 160 turns
    typing_customers: int = 20
    typing_think_s: float = 5.0  # a person reads the reply and types the next message
    typing_seconds: float = 60.0
    busy_customers: int = 20
    busy_seconds: float = 20.0  # no pause, once with one server, once with two workers
    workers: int = 2
    seed: int = 13


def target_run(
    name: str,
    plan: TargetPlan,
    *,
    root: Path,
    cache: Path,
    off_topic_share: float = 0.25,
    raw_queries: int = 100,
    warmup_turns: int = 5,
) -> dict[str, Any]:
    """Every target's phase on one data set, one after another: the raw encoders, one
    customer alone, 20 at a typing pace, 20 without pause (one server), the raw encoders again,
    then the same no-pause load spread over `plan.workers` servers, each worker with its own
    copy of the knowledge and its own conversation database (as a load balancer keeping a
    customer on one worker would; the encoders' threads shared out: cores ÷ workers)."""
    folder, knowledge = knowledge_base(name, root, cache)
    inside, outside = questions(name, root)
    deck = QuestionDeck(inside, outside, off_topic_share, plan.seed)
    phases: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kefu-bench-targets-") as tmp_name:
        tmp = Path(tmp_name)
        embedders = server_embedders()
        with serve(folder, f"sqlite:///{tmp / 'one.db'}", tmp / "one.log") as server:
            memory_idle = process_memory_mb(server.pid)
            warm_up(server.url, deck, warmup_turns)
            raw_texts = [q.text for q in deck.peek(raw_queries)]
            before = time_encoders(raw_texts, embedders)
            log.info("%s: raw encoder rate %.1f questions/s", name, before["raw_encoder_rate"])
            phases["single"] = _phase(
                server.url,
                [server.pid],
                deck,
                LoadPlan(1, (3, 5), 0.0, None, plan.single_conversations, plan.seed),
            )
            phases["typing"] = _phase(
                server.url,
                [server.pid],
                deck,
                LoadPlan(
                    plan.typing_customers, (3, 5), plan.typing_think_s, plan.typing_seconds,
                    None, plan.seed,
                ),
            )  # fmt: skip
            busy = LoadPlan(plan.busy_customers, (3, 5), 0.0, plan.busy_seconds, None, plan.seed)
            phases["busy"] = _phase(server.url, [server.pid], deck, busy)
            phases["busy"]["rss_idle_mb"] = [memory_idle.get("VmRSS")]
            after = time_encoders(raw_texts, embedders)
        encoders = both_timings(before, after)
        phases["workers"] = _workers_phase(folder, tmp, deck, busy, plan.workers, warmup_turns)
    result = {
        "dataset": name,
        "knowledge": knowledge,
        "questions": {
            "in_scope": len(inside),
            "off_topic": len(outside),
            "off_topic_share": off_topic_share,
            "dealt": deck.dealt,
            "ran_out": deck.exhausted,
        },
        "encoders": encoders,
        "phases": phases,
        "machine": {"cores": os.cpu_count(), "load_after": load_average()},
    }
    result["targets"] = target_verdict(result)
    return result


def _workers_phase(
    folder: Path, tmp: Path, deck: QuestionDeck, busy: LoadPlan, workers: int, warmup: int
) -> dict[str, Any]:
    threads = str(max(1, (os.cpu_count() or 2) // workers))
    with ExitStack() as stack:
        servers = []
        for n in range(workers):
            data = tmp / f"worker{n}"
            snapshot(folder, data)  # an embedded Chroma belongs to one process
            servers.append(
                stack.enter_context(
                    serve(
                        data,
                        f"sqlite:///{tmp / f'worker{n}.db'}",
                        tmp / f"worker{n}.log",
                        settings={"KEFU_EMBEDDING__THREADS": threads},
                    )
                )
            )
        idle = [process_memory_mb(s.pid).get("VmRSS") for s in servers]
        for s in servers:
            warm_up(s.url, deck, warmup)
        phase = _phase([s.url for s in servers], [s.pid for s in servers], deck, busy)
        phase["rss_idle_mb"] = idle
        phase["encoder_threads_per_worker"] = int(threads)
        return phase


def _phase(
    url: str | list[str], pids: list[int], deck: QuestionDeck, plan: LoadPlan
) -> dict[str, Any]:
    """One load on running servers: the customers' figures and what the servers used."""
    log.info("phase: %d customers, think %.1f s, %s", plan.customers, plan.think_s, plan)
    cpu = [process_cpu_seconds(p) for p in pids]
    other = machine_cpu_seconds()
    with ExitStack() as stack:
        samplers = [stack.enter_context(MemorySampler(p)) for p in pids]
        run = drive(url, deck, plan)
    cpu = [process_cpu_seconds(p) - c for p, c in zip(pids, cpu, strict=True)]
    other = machine_cpu_seconds() - other - sum(cpu)
    summary = summarize(run)
    wall = run.wall_seconds or 1.0
    summary.pop("start_latency", None)
    return {
        **summary,
        "server_cpu_ms_per_turn": round(1000 * sum(cpu) / max(summary["turns_ok"], 1), 1),
        "servers_cores": round(sum(cpu) / wall, 2),
        "other_cores": round(max(other, 0.0) / wall, 2),  # this bench and everyone else
        "rss_peak_mb": [s.peak_rss_mb for s in samplers],
        "rss_end_mb": [process_memory_mb(p).get("VmRSS") for p in pids],
    }


def target_verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Each target: the measured value, its target and whether it is met."""
    phases, rate = result["phases"], result["encoders"]["raw_encoder_rate"]
    busy, workers = phases["busy"]["turns_per_s"], phases["workers"]["turns_per_s"]
    values = {
        "single_p50_ms": phases["single"]["turn_latency"].get("p50_ms"),
        "typing_p95_ms": phases["typing"]["turn_latency"].get("p95_ms"),
        "busy_per_raw_rate": round(busy / rate, 3) if rate else None,
        "two_workers_per_one": round(workers / busy, 3) if busy else None,
    }
    met = {}
    for key, value in values.items():
        target = SPEED_TARGETS[key]
        at_most = key.endswith("_ms")
        met[key] = value is not None and (value <= target if at_most else value >= target)
    return {"values": values, "targets": SPEED_TARGETS, "met": met}


def targets_table(result: dict[str, Any]) -> str:
    """The targets as a Markdown table: measured against target, from one run."""
    p, enc, t = result["phases"], result["encoders"], result["targets"]
    v, met = t["values"], t["met"]
    mark = {True: "met", False: "**missed**"}
    single, typing, busy, workers = p["single"], p["typing"], p["busy"], p["workers"]

    def mb(values: list[Any]) -> str:
        return " / ".join(f"{x:.0f}" for x in values if x is not None) + " MB"

    rows = [
        (
            "one customer alone: turn p50 (HTTP)",
            f"{v['single_p50_ms']} ms ({single['turns_ok']} turns)",
            f"≤ {SPEED_TARGETS['single_p50_ms']:g} ms",
            mark[met["single_p50_ms"]],
        ),
        (
            f"{typing['plan']['customers']} customers at a typing pace "
            f"({typing['plan']['think_s']:g} s mean pause): turn p95",
            f"{v['typing_p95_ms']} ms (p50 {typing['turn_latency'].get('p50_ms')} ms, "
            f"{typing['turns_ok']} turns)",
            f"≤ {SPEED_TARGETS['typing_p95_ms']:g} ms",
            mark[met["typing_p95_ms"]],
        ),
        (
            f"{busy['plan']['customers']} customers, no pause: turns/s ÷ raw encoder rate",
            f"{v['busy_per_raw_rate']} ({busy['turns_per_s']} ÷ {enc['raw_encoder_rate']}/s)",
            f"≥ {SPEED_TARGETS['busy_per_raw_rate']:g}",
            mark[met["busy_per_raw_rate"]],
        ),
        (
            f"{len(workers['rss_end_mb'])} workers ÷ one, no pause: turns/s",
            f"{v['two_workers_per_one']} ({workers['turns_per_s']} ÷ {busy['turns_per_s']})",
            f"≥ {SPEED_TARGETS['two_workers_per_one']:g}",
            mark[met["two_workers_per_one"]],
        ),
        (
            "memory per worker: RSS peak under load (idle)",
            f"one server {mb(busy['rss_peak_mb'])} ({mb(busy['rss_idle_mb'])}); "
            f"workers {mb(workers['rss_peak_mb'])} ({mb(workers['rss_idle_mb'])})",
            "reported",
            "",
        ),
    ]
    lines = [
        f"### {result['dataset']}: targets, measured in one run",
        "",
        "| target | measured | target | |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"Raw encoder rate: {enc['before']['raw_encoder_rate']} questions/s before the loads, "
        f"{enc['after']['raw_encoder_rate']} after, {enc['raw_encoder_rate']} over both "
        f"({enc['encoder_ms_per_question']} ms per question, every encoder serving its "
        "language, one question at a time). Server CPU per turn: one customer "
        f"{single['server_cpu_ms_per_turn']} ms, no pause {busy['server_cpu_ms_per_turn']} ms, "
        f"workers {workers['server_cpu_ms_per_turn']} ms. Other processes on the machine "
        f"(this bench included) used {busy['other_cores']} cores during the no-pause load "
        f"with one server, {workers['other_cores']} with the workers "
        f"({workers['encoder_threads_per_worker']} encoder thread(s) each); "
        f"{result['machine']['load_after']}.",
    ]
    failed = sum(p[k]["turns_failed"] for k in p)
    if failed:
        lines.append(f"Failed turns: {failed}.")
    if result["questions"]["ran_out"]:
        lines.append("The questions ran out before the last phase's time (no question twice).")
    return "\n".join(lines)


# ---- the report -------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Chat benchmark",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Run at {report['at']} on {report['cores']} cores. Targets at "
        f"{TARGETS['customers']} concurrent customers: p50 <= {TARGETS['p50_ms']:g} ms, "
        f"p95 <= {TARGETS['p95_ms']:g} ms, turns/s >= {TARGETS['turns_per_raw_rate']} x the raw "
        "encoder rate.",
        "",
        "Turn latency = message sent to reply received, measured by the customer (HTTP, "
        "queueing, the answerer, the store). Answerer = the bot's own `latency_ms` (retrieval "
        "and decision only). Raw encoder rate = questions/s when each question is only encoded, "
        "one at a time, by every encoder that serves its language, in the bench process.",
        "",
    ]
    for r in report["runs"]:
        load, server, machine, enc = r["load"], r["server"], r["machine"], r["encoders"]
        plan, lat, ans, tv = load["plan"], load["turn_latency"], load["answerer_latency"], None
        tv = r["targets"]
        mark = {True: "met", False: "**missed**"}
        lines += [
            f"## {r['dataset']}",
            "",
            f"{plan['customers']} customers, {plan['turns'][0]}-{plan['turns'][1]} messages per "
            f"conversation, think time {plan['think_s']:g} s, "
            + (
                f"{plan['seconds']:g} s of load"
                if plan["seconds"] is not None
                else f"{plan['conversations']} conversations"
            )
            + f"; {r['questions']['off_topic_share']:.0%} of questions off-topic. Knowledge: "
            f"{r['knowledge']['chunks']} items ({r['knowledge']['folder']}).",
            "",
            f"Machine load before: {machine['load_before']}; after: {machine['load_after']}. "
            f"During the load phase the server used {server['cores_used']} cores, this bench "
            f"process {machine['bench_process_cores']}, other processes "
            f"{machine['other_processes_cores']}.",
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| turns (ok / failed) | {load['turns_ok']} / {load['turns_failed']} | |",
            f"| conversations | {load['conversations']} | |",
            f"| wall time | {load['wall_seconds']} s | |",
            f"| **turns/s** | **{load['turns_per_s']}** | |",
            f"| turn latency p50 | {lat.get('p50_ms')} ms | <= {TARGETS['p50_ms']:g} ms: "
            f"{mark[tv['met']['p50_ms']]} |",
            f"| turn latency p95 | {lat.get('p95_ms')} ms | <= {TARGETS['p95_ms']:g} ms: "
            f"{mark[tv['met']['p95_ms']]} |",
            f"| turn latency p99 / max | {lat.get('p99_ms')} / {lat.get('max_ms')} ms | |",
            f"| answerer latency p50 / p95 / p99 | {ans.get('p50_ms')} / {ans.get('p95_ms')} / "
            f"{ans.get('p99_ms')} ms | |",
            f"| start conversation p50 / p95 | {load['start_latency'].get('p50_ms')} / "
            f"{load['start_latency'].get('p95_ms')} ms | |",
        ]
        before, after = enc["before"], enc["after"]
        for ename, e in before["encoders"].items():
            a = after["encoders"][ename]
            lines.append(
                f"| {ename} single query p50 / mean, before → after the load (bench "
                f"process, idle server) | {e['p50_ms']} / {e['mean_ms']} → {a['p50_ms']} / "
                f"{a['mean_ms']} ms (serves {e['questions_it_serves']} of {before['questions']} "
                "questions) | |"
            )
        ratio = tv["turns_per_raw_rate"]["value"]
        lines += [
            f"| raw encoder rate, before / after / both | {before['raw_encoder_rate']} / "
            f"{after['raw_encoder_rate']} / **{enc['raw_encoder_rate']}** questions/s "
            f"({enc['encoder_ms_per_question']} ms of encoding per question) | |",
            f"| **turns/s ÷ raw encoder rate** | **{ratio}** | >= "
            f"{TARGETS['turns_per_raw_rate']}: {mark[tv['met']['turns_per_raw_rate']]} |",
            f"| retrievals per turn (follow-ups retrieve twice) | "
            f"{r['log']['retrievals_per_turn']} | |",
            f"| server RSS idle / peak (sampled) / end | {server['rss_idle_mb']} / "
            f"{server['rss_peak_sampled_mb']} / {server['rss_end_mb']} MB | |",
            f"| server VmHWM | {server['hwm_mb']} MB | |",
            f"| server CPU per turn / encoders' CPU per question | {server['cpu_ms_per_turn']} / "
            f"{enc['encoder_cpu_ms_per_question']} ms | |",
            f"| server start (to /api/health) | {server['startup_s']} s | |",
            f"| warm-up turns (untimed) | {server['warmup_turns_ms']} ms | |",
            "",
            f"Statuses: in-scope {load['statuses']['in_scope']}, off-topic "
            f"{load['statuses']['off_topic']}. Questions dealt {r['questions']['dealt']}, "
            f"repeated {r['questions']['repeats']}.",
        ]
        if load["questions_ran_out"]:
            lines.append(
                "The load ended before its time: every question had been asked once (a repeat "
                "would be answered from the server's cache)."
            )
        if load["errors"] or load["start_errors"]:
            lines.append(f"Errors: {load['errors']} {load['start_errors']}")
        if plan["customers"] != TARGETS["customers"]:
            lines.append(
                f"(The targets are set for {TARGETS['customers']} customers; this run had "
                f"{plan['customers']}.)"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=DATASETS)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--turns", type=parse_turns, default=(3, 5), help="N or A-B (3-5)")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds between messages")
    until = parser.add_mutually_exclusive_group()
    until.add_argument("--seconds", type=float, default=None, help="load duration (default 60)")
    until.add_argument("--conversations", type=int, default=None, help="or: conversations in all")
    parser.add_argument("--off-topic-share", type=float, default=0.25)
    parser.add_argument(
        "--allow-repeats",
        action="store_true",
        help="ask questions again when they run out (the server answers them from its cache)",
    )
    parser.add_argument("--raw-queries", type=int, default=200, help="questions to time encoders")
    parser.add_argument("--warmup-turns", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=".json; .md next to it")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="measure the speed targets instead (make bench): one customer, 20 at a typing "
        "pace, 20 without pause, then two workers; --customers/--think/--seconds are ignored",
    )
    parser.add_argument("--typing-seconds", type=float, default=TargetPlan.typing_seconds)
    parser.add_argument("--busy-seconds", type=float, default=TargetPlan.busy_seconds)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    from eval.datasets import default_root

    if args.targets:
        return targets_main(args, argv)

    seconds = args.seconds if args.seconds is not None or args.conversations else 60.0
    plan = LoadPlan(args.customers, args.turns, args.think, seconds, args.conversations, args.seed)
    report: dict[str, Any] = {
        "command": "python -m eval.bench_chat "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cores": os.cpu_count(),
        "targets": TARGETS,
        "runs": [],
    }
    for name in args.dataset or ["clinc150"]:
        result = run_dataset(
            name,
            plan,
            root=args.data_root or default_root(),
            cache=args.cache_dir,
            off_topic_share=args.off_topic_share,
            raw_queries=args.raw_queries,
            warmup_turns=args.warmup_turns,
            allow_repeats=args.allow_repeats,
        )
        report["runs"].append(result)
        print(json.dumps({k: result[k] for k in ("dataset", "load", "targets")}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(f"report: {args.out.with_suffix('.md')}")
    failed = sum(r["load"]["turns_failed"] for r in report["runs"])
    return 1 if failed else 0


def targets_main(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from eval.datasets import default_root

    plan = TargetPlan(
        typing_seconds=args.typing_seconds, busy_seconds=args.busy_seconds, seed=args.seed
    )
    command = "python -m eval.bench_chat " + shlex.join(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {
        "command": command,
        "at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "plan": asdict(plan),
        "runs": [],
    }
    for name in args.dataset or ["taipei_faq"]:
        report["runs"].append(
            target_run(
                name,
                plan,
                root=args.data_root or default_root(),
                cache=args.cache_dir,
                off_topic_share=args.off_topic_share,
                warmup_turns=args.warmup_turns,
            )
        )
    tables = "\n\n".join(targets_table(r) for r in report["runs"])
    out = args.out if args.out != DEFAULT_OUT else DEFAULT_OUT.with_name("bench_targets.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    heading = f"# Speed targets\n\nCommand: `{command}`, run at {report['at']}.\n\n"
    out.with_suffix(".md").write_text(heading + tables + "\n", encoding="utf-8")
    print(tables)
    print(f"report: {out.with_suffix('.md')}")
    failed = sum(p["turns_failed"] for r in report["runs"] for p in r["phases"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
