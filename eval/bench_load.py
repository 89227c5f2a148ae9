"""Load benchmark: several kefu workers on one PostgreSQL, Redis and Chroma server, under many
customers typing at a person's pace.

    python -m eval.bench_load [--customers 200] [--seconds 300] [--workers 2] [--pace 5]
        [--turns 3-5]

It sets the whole thing up itself and removes it after: a fresh PostgreSQL database (created,
then dropped), its own key prefix in Redis (deleted after), a Chroma server on a temporary
folder, the demo shop's knowledge (knowledge/demo/files) ingested with the real encoders, and W
`kefu serve` processes on ports of their own, as hosts behind a load balancer are. Every
request goes to the next worker in turn (a balancer without sticky sessions), so one
conversation's messages are answered by different workers.

Each customer starts a conversation through the widget's HTTP API, sends 3-5 messages (the
demo shop's customer questions, eval/data/demo_questions.tsv: answerable ones, and ones near
the shop's subject or off it, which the bot should refuse), one about every `--pace` seconds
(uniformly 0.5-1.5 times it, never before the last reply came), then starts the next
conversation. The customers start spread over the first pace interval. The gate measures but
hands nobody off, so every message is a bot turn; the server's query cache is kept small (32)
so that a question asked again costs a full turn like a new one.

The report: requests and errors (a benchmark with errors fails), turn latency as the customer
sees it (p50/p95/p99), turns/s against the pace's offered rate, and each worker's memory (RSS
idle, peak sampled, end) and CPU; the load generator's own CPU is reported too, so it can be
seen not to crowd the workers. eval/results/bench_load.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.bench_chat import (
    REQUEST_TIMEOUT_S,
    MemorySampler,
    QuestionDeck,
    TurnRecord,
    free_port,
    load_average,
    machine_cpu_seconds,
    parse_turns,
    percentiles,
    process_cpu_seconds,
    process_memory_mb,
    self_cpu_seconds,
    send_message,
    wait_until_up,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

EVAL_DIR = Path(__file__).resolve().parent
DEMO_FILES = EVAL_DIR.parent / "knowledge" / "demo" / "files"
DEFAULT_OUT = EVAL_DIR / "results" / "bench_load.json"
DEFAULT_POSTGRES = "host=127.0.0.1 port=5432 user=postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
CHANNEL = "bench-load"
START_TIMEOUT_S = 600.0  # a worker loading its encoders on a busy machine


@dataclass(frozen=True)
class LoadPlan:
    customers: int = 200
    seconds: float = 300.0
    pace_s: float = 5.0  # mean time between one customer's messages
    turns: tuple[int, int] = (3, 5)  # messages per conversation, drawn uniformly
    seed: int = 13

    @property
    def offered_per_s(self) -> float:
        """Messages per second the customers would send if every reply were instant."""
        return self.customers / self.pace_s


@dataclass
class LoadRun:
    plan: LoadPlan
    turns: list[TurnRecord] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)  # POST /api/conversations
    start_errors: list[str] = field(default_factory=list)
    conversations: int = 0
    wall_seconds: float = 0.0


# ---- the questions ----------------------------------------------------------------------------


def demo_deck(seed: int, off_topic_share: float) -> QuestionDeck:
    """The demo shop's customer questions, dealt again once all were asked."""
    from eval.demo_shop import load_questions

    asked = load_questions()
    answerable = [q.text for q in asked if q.kind == "answerable"]
    refused = [q.text for q in asked if q.kind != "answerable"]
    return QuestionDeck(answerable, refused, off_topic_share, seed, allow_repeats=True)


# ---- what the workers share -------------------------------------------------------------------


@contextmanager
def postgres_database(conninfo: str) -> Iterator[str]:
    """A fresh database (dropped after); its SQLAlchemy URL."""
    import psycopg
    from psycopg import sql

    name = f"kefu_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    password = f":{params['password']}" if params.get("password") else ""
    try:
        yield (
            f"postgresql+psycopg://{params.get('user', 'postgres')}{password}@"
            f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
        )
    finally:
        with psycopg.connect(conninfo, dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix of this run's own in Redis; its keys are deleted after."""
    import redis

    prefix = f"kefu-bench-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@contextmanager
def chroma_server(folder: Path, log_path: Path) -> Iterator[str]:
    """A Chroma server over `folder`; its URL."""
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/api/v2/heartbeat", process, 120)
            yield url
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


# ---- the workers ------------------------------------------------------------------------------


@dataclass
class Worker:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def kefu_env(database_url: str, redis_url: str, prefix: str, chroma_url: str) -> dict[str, str]:
    """The settings every kefu process of the run shares."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "TOKENIZERS_PARALLELISM": "false",
        "KEFU_DATABASE_URL": database_url,
        "KEFU_REDIS_URL": redis_url,
        "KEFU_REDIS_PREFIX": prefix,
        "KEFU_CHROMA_URL": chroma_url,
        # every simulated customer comes from 127.0.0.1
        "KEFU_ACCESS__CUSTOMER_RATE_LIMIT": "1000000/minute",
        "KEFU_ACCESS__CONVERSATION_RATE_LIMIT": "1000000/minute",
        # the gate measures every message but hands nobody off: every message is a bot turn
        "KEFU_GATE__SHADOW": "true",
        # a question asked again costs a full turn, as a new one does
        "KEFU_RETRIEVAL__CACHE_SIZE": "32",
    }


def ingest_demo(data_dir: Path, env: dict[str, str], log_path: Path) -> float:
    """`kefu ingest knowledge/demo/files` into the shared services; its seconds."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "bot.cli", "ingest", str(DEMO_FILES)]
    with log_path.open("wb") as out:
        done = subprocess.run(
            [*command, "--data-dir", str(data_dir)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"kefu ingest failed ({done.returncode}):\n{tail}")
    return time.perf_counter() - started


@contextmanager
def serving(
    count: int, data_dir: Path, env: dict[str, str], folder: Path
) -> Iterator[list[Worker]]:
    """`count` `kefu serve` processes over the same data directory and shared services, each
    on a port of its own, all ready (/readyz) before this yields."""
    with ExitStack() as stack:
        started = []
        for n in range(count):
            port = free_port()
            log_path = folder / f"worker{n}.log"
            out = stack.enter_context(log_path.open("wb"))
            command = [sys.executable, "-m", "bot.cli", "serve", "--data-dir", str(data_dir)]
            command += ["--host", "127.0.0.1", "--port", str(port)]
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            stack.callback(stop, process)
            started.append(Worker(f"http://127.0.0.1:{port}", process, log_path))
        for worker in started:
            try:
                wait_until_up(f"{worker.url}/readyz", worker.process, START_TIMEOUT_S)
            except RuntimeError:
                tail = worker.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                log.error("worker log (%s), last lines:\n%s", worker.log_path, tail)
                raise
        yield started


# ---- the customers ----------------------------------------------------------------------------


def warm_up(urls: Sequence[str], deck: QuestionDeck, turns: int = 3) -> None:
    """A few untimed turns on each worker: what loads on first use is loaded before the load."""
    import httpx

    for url in urls:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
            started = client.post("/api/conversations", json={"channel": f"{CHANNEL}-warmup"})
            started.raise_for_status()
            opened = started.json()
            for _ in range(turns):
                question = deck.draw()
                assert question is not None  # the deck deals again when it runs out
                client.post(
                    f"/api/conversations/{opened['id']}/messages",
                    json={"text": question.text},
                    headers={"Authorization": f"Bearer {opened['customer_token']}"},
                ).raise_for_status()


def drive(urls: Sequence[str], deck: QuestionDeck, plan: LoadPlan) -> LoadRun:
    """The plan's customers against the workers at `urls`, for the plan's seconds."""
    return asyncio.run(_drive(urls, deck, plan))


async def _drive(urls: Sequence[str], deck: QuestionDeck, plan: LoadPlan) -> LoadRun:
    import httpx

    run = LoadRun(plan)
    per_worker = max(1, plan.customers // len(urls) + 1)
    limits = httpx.Limits(max_connections=per_worker, max_keepalive_connections=per_worker)
    clients = [
        httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT_S) for url in urls
    ]
    turn_robin = itertools.cycle(clients)  # the balancer: every request to the next worker
    numbers = itertools.count()
    began = time.perf_counter()
    deadline = began + plan.seconds

    async def customer(who: int) -> None:
        rng = random.Random(plan.seed * 1000 + who)
        await asyncio.sleep(rng.uniform(0, plan.pace_s))  # arrivals spread, not all at once
        while time.perf_counter() < deadline:
            number = next(numbers)
            t = time.perf_counter()
            try:
                started = await next(turn_robin).post(
                    "/api/conversations", json={"channel": CHANNEL}
                )
            except httpx.HTTPError as e:
                run.start_errors.append(f"{type(e).__name__}: {e}")
                await asyncio.sleep(plan.pace_s)
                continue
            run.start_seconds.append(time.perf_counter() - t)
            if started.status_code != 201:
                run.start_errors.append(f"HTTP {started.status_code}: {started.text[:200]}")
                await asyncio.sleep(plan.pace_s)
                continue
            opened = started.json()
            run.conversations += 1
            for turn in range(1, rng.randint(*plan.turns) + 1):
                sent = time.perf_counter()
                if sent >= deadline:  # a slow start or a late wake-up: nothing after the time
                    return
                question = deck.draw()
                assert question is not None  # the deck deals again when it runs out
                record = await send_message(
                    next(turn_robin),
                    opened["id"],
                    opened["customer_token"],
                    question,
                    who,
                    number,
                    turn,
                    began,
                )
                run.turns.append(record)
                # the next message about `pace` after this one was sent, never before its reply
                wait = plan.pace_s * rng.uniform(0.5, 1.5) - (time.perf_counter() - sent)
                if time.perf_counter() + max(wait, 0) >= deadline:
                    return
                await asyncio.sleep(max(wait, 0))

    try:
        await asyncio.gather(*(customer(who) for who in range(plan.customers)))
    finally:
        for client in clients:
            await client.aclose()
    run.wall_seconds = time.perf_counter() - began
    return run


# ---- the figures ------------------------------------------------------------------------------


def summarize(run: LoadRun) -> dict[str, Any]:
    """The load phase's figures from its records."""
    ok = [t for t in run.turns if t.ok]
    failed = [t for t in run.turns if not t.ok]
    errors = Counter(t.error or f"HTTP {t.http_status}" for t in failed)
    errors.update(run.start_errors)
    wall = run.wall_seconds or 1.0
    requests = len(run.turns) + len(run.start_seconds) + len(run.start_errors)
    return {
        "plan": {
            "customers": run.plan.customers,
            "seconds": run.plan.seconds,
            "pace_s": run.plan.pace_s,
            "turns": list(run.plan.turns),
            "seed": run.plan.seed,
        },
        "requests": requests,
        "errors": len(failed) + len(run.start_errors),
        "error_kinds": dict(errors.most_common(5)),
        "conversations": run.conversations,
        "turns": len(run.turns),
        "turns_ok": len(ok),
        "wall_seconds": round(run.wall_seconds, 2),
        "turns_per_s": round(len(ok) / wall, 2),
        "offered_per_s": round(run.plan.offered_per_s, 2),
        "turn_latency": percentiles([t.seconds for t in ok]),
        "answerer_latency": percentiles(
            [t.server_ms / 1000 for t in ok if t.server_ms is not None]
        ),
        "start_latency": percentiles(run.start_seconds),
        "statuses": dict(Counter(t.status or "?" for t in ok)),
    }


def markdown(report: dict[str, Any]) -> str:
    load, machine = report["load"], report["machine"]
    plan, lat = load["plan"], load["turn_latency"]
    lines = [
        "# Load benchmark",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Run at {report['at']} on {machine['cores']} cores: {len(report['workers'])} kefu "
        f"workers on PostgreSQL, Redis and a Chroma server; {plan['customers']} customers, one "
        f"message every ~{plan['pace_s']:g} s each ({load['offered_per_s']} messages/s offered), "
        f"{plan['turns'][0]}-{plan['turns'][1]} messages per conversation, for "
        f"{plan['seconds']:g} s. Knowledge: the demo shop ({report['knowledge']['ingest_s']} s "
        "to ingest).",
        "",
        f"Machine load before: {machine['load_before']}; after: {machine['load_after']}. During "
        f"the load the workers used {machine['workers_cores']} cores, this load generator "
        f"{machine['bench_process_cores']}, other processes {machine['other_processes_cores']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests | {load['requests']} |",
        f"| **errors** | **{load['errors']}** |",
        f"| conversations / turns | {load['conversations']} / {load['turns']} |",
        f"| **turns/s** (offered {load['offered_per_s']}) | **{load['turns_per_s']}** |",
        f"| turn latency p50 / p95 / p99 | {lat.get('p50_ms')} / {lat.get('p95_ms')} / "
        f"{lat.get('p99_ms')} ms |",
        f"| turn latency max | {lat.get('max_ms')} ms |",
        f"| answerer latency p50 / p95 | {load['answerer_latency'].get('p50_ms')} / "
        f"{load['answerer_latency'].get('p95_ms')} ms |",
        f"| start conversation p50 / p95 | {load['start_latency'].get('p50_ms')} / "
        f"{load['start_latency'].get('p95_ms')} ms |",
    ]
    for n, w in enumerate(report["workers"]):
        lines.append(
            f"| worker {n}: RSS idle / peak (sampled) / end, CPU | {w['rss_idle_mb']} / "
            f"{w['rss_peak_sampled_mb']} / {w['rss_end_mb']} MB, {w['cores_used']} cores |"
        )
    lines += ["", f"Statuses: {load['statuses']}."]
    if load["errors"]:
        lines.append(f"Errors: {load['error_kinds']}")
    return "\n".join(lines) + "\n"


# ---- one run ----------------------------------------------------------------------------------


def run(
    plan: LoadPlan,
    count: int,
    postgres: str,
    redis_url: str,
    off_topic_share: float,
    logs: Path | None = None,
) -> dict:
    """One load run; when a request failed, the workers' and Chroma's logs are copied into
    `logs` (the scratch folder they were written in is removed)."""
    deck = demo_deck(plan.seed, off_topic_share)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kefu-bench-load-")))
        database_url = stack.enter_context(postgres_database(postgres))
        prefix = stack.enter_context(redis_prefix(redis_url))
        chroma = stack.enter_context(chroma_server(folder / "chroma", folder / "chroma.log"))
        env = kefu_env(database_url, redis_url, prefix, chroma)
        data_dir = folder / "data"
        ingest_s = ingest_demo(data_dir, env, folder / "ingest.log")
        log.info("demo knowledge ingested in %.1f s", ingest_s)
        started = stack.enter_context(serving(count, data_dir, env, folder))
        urls = [w.url for w in started]
        idle = [process_memory_mb(w.pid) for w in started]
        warm_up(urls, deck)
        load_before = load_average()
        cpu_workers = [process_cpu_seconds(w.pid) for w in started]
        cpu_machine, cpu_self = machine_cpu_seconds(), self_cpu_seconds()
        log.info("%d customers on %d workers, %s", plan.customers, count, load_before)
        with ExitStack() as sampling:
            samplers = [sampling.enter_context(MemorySampler(w.pid)) for w in started]
            done = drive(urls, deck, plan)
        cpu_workers = [
            process_cpu_seconds(w.pid) - c for w, c in zip(started, cpu_workers, strict=True)
        ]
        cpu_machine = machine_cpu_seconds() - cpu_machine
        cpu_self = self_cpu_seconds() - cpu_self
        end = [process_memory_mb(w.pid) for w in started]
        load_after = load_average()
        if logs is not None and summarize(done)["errors"]:
            logs.mkdir(parents=True, exist_ok=True)
            for path in folder.glob("*.log"):
                shutil.copy(path, logs / path.name)
            log.error("requests failed: the servers' logs are in %s", logs)
    wall = done.wall_seconds or 1.0
    return {
        "knowledge": {"files": str(DEMO_FILES), "ingest_s": round(ingest_s, 1)},
        "questions": {"dealt": deck.dealt, "repeats": deck.repeats},
        "workers": [
            {
                "rss_idle_mb": idle[n].get("VmRSS"),
                "rss_peak_sampled_mb": samplers[n].peak_rss_mb,
                "rss_end_mb": end[n].get("VmRSS"),
                "hwm_mb": end[n].get("VmHWM"),
                "cpu_s": round(cpu_workers[n], 1),
                "cores_used": round(cpu_workers[n] / wall, 2),
            }
            for n in range(count)
        ],
        "machine": {
            "cores": os.cpu_count(),
            "load_before": load_before,
            "load_after": load_after,
            "workers_cores": round(sum(cpu_workers) / wall, 2),
            "bench_process_cores": round(cpu_self / wall, 2),
            "other_processes_cores": round(
                max(cpu_machine - sum(cpu_workers) - cpu_self, 0) / wall, 2
            ),
        },
        "load": summarize(done),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300.0, help="load duration")
    parser.add_argument("--workers", type=int, default=2, help="kefu serve processes")
    parser.add_argument("--pace", type=float, default=5.0, help="mean s between one's messages")
    parser.add_argument("--turns", type=parse_turns, default=(3, 5), help="N or A-B (3-5)")
    parser.add_argument("--off-topic-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KEFU_BENCH_POSTGRES", DEFAULT_POSTGRES),
        help="libpq conninfo of a role that may create databases",
    )
    parser.add_argument("--redis", default=os.environ.get("KEFU_BENCH_REDIS", DEFAULT_REDIS))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=".json; .md next to it")
    args = parser.parse_args(argv)
    if args.customers < 1 or args.workers < 1 or args.seconds <= 0 or args.pace <= 0:
        parser.error("customers and workers are at least 1; seconds and pace above 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    plan = LoadPlan(args.customers, args.seconds, args.pace, args.turns, args.seed)
    report: dict[str, Any] = {
        "command": "python -m eval.bench_load "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        **run(
            plan,
            args.workers,
            args.postgres,
            args.redis,
            args.off_topic_share,
            logs=args.out.with_name(args.out.stem + "-logs"),
        ),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    print(f"report: {args.out.with_suffix('.md')}")
    return 1 if report["load"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
