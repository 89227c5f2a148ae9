"""Keyword search over a shared catalog, two designs measured on PostgreSQL.

    python -m eval.bench_keyword [--items 10000] [--queries 200] [--postgres "host=… user=…"]

(a) what kefu does: each worker keeps its own BM25 index (bm25s), rebuilt from the catalog's
tokens when the catalog's revision moves. Measured: the rebuild (reading the tokens, building
the matrix), the memory the index keeps, a query (with the revision check every turn makes),
and the time to consistency: from another worker's ingest committing to this worker's searches
finding the new items (the first search after the revision moved rebuilds the index).
(b) BM25 inside the database: a table of pre-tokenised terms per chunk (term, chunk, tf) with
the chunks' lengths, and one SQL query that scores the chunks holding a query term. Measured:
loading it, its size on disk, a query, and how often its top 10 agree with (a)'s.

The items are synthetic but made of real text: each is one Taipei City FAQ row
(KEFU_DATASETS/taipei_faq) or one bank FAQ row (bank_faqs) with a share of another row's words
mixed in, so that the vocabulary and the terms' frequencies are those of real FAQ text. The
queries are real FAQ questions. A database of its own is created and dropped on the server
(trust auth on 127.0.0.1:5432 unless --postgres says otherwise).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.bench_load import postgres_database

if TYPE_CHECKING:
    from knowledge.catalog import Catalog, ChunkRow

os.environ.setdefault("HF_HUB_OFFLINE", "1")

K = 20  # passages a turn asks the keyword index for
MAX_TOKENS = 160  # an item's tokens at most: a FAQ row, not a document
SOURCE_ITEMS = 1000  # items per source when loading
INGEST_ITEMS = 20  # items of the ingest whose time to consistency is measured
K1, B = 1.2, 0.75  # kefu's KeywordIndex defaults


def base_rows(root: Path) -> list[tuple[str, str]]:
    """(question, answer) of every Taipei City FAQ row and bank FAQ row."""
    rows = []
    for line in (root / "taipei_faq" / "taipei_faq.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        rows.append((str(item["question"]), str(item["answer"])))
    with (root / "bank_faqs" / "BankFAQs.csv").open(encoding="utf-8") as f:
        rows.extend((r["Question"], r["Answer"]) for r in csv.DictReader(f))
    return rows


def synthetic_items(
    rows: Sequence[tuple[str, str]], n: int, seed: int = 13
) -> tuple[list[list[str]], list[list[str]]]:
    """`n` items' tokens, each a real row's with a third of another row's words mixed in and a
    tenth of its own dropped; and the tokens of every row's question (the queries)."""
    from knowledge.text import tokenize

    rng = random.Random(seed)
    based = [list(tokenize(f"{q}\n{a}"))[:MAX_TOKENS] for q, a in rows]
    based = [t for t in based if t]
    items = []
    for _ in range(n):
        own, other = rng.choice(based), rng.choice(based)
        kept = [t for t in own if rng.random() > 0.1]
        mixed = rng.sample(other, len(other) // 3)
        items.append((kept + mixed)[:MAX_TOKENS] or own[:1])
    queries = [list(tokenize(q)) for q, _ in rows]
    return items, [q for q in queries if q]


def item_id(n: int) -> str:
    return f"bench-{n // SOURCE_ITEMS}.xlsx#row={n}"


def load_catalog(catalog: Catalog, items: Sequence[Sequence[str]], first: int = 0) -> float:
    """The items into the catalog, a source per SOURCE_ITEMS of them; seconds taken."""
    now = "2026-12-03T00:00:00+00:00"
    started = time.perf_counter()
    for start in range(0, len(items), SOURCE_ITEMS):
        rows: list[ChunkRow] = [
            (item_id(first + start + i), f"row={i}", f"{first + start + i:064x}", " ".join(toks),
             "zh", {}, toks, now)
            for i, toks in enumerate(items[start : start + SOURCE_ITEMS])
        ]  # fmt: skip
        catalog.replace_source(f"bench-{(first + start) // SOURCE_ITEMS}.xlsx", "", [], rows, now)
    return time.perf_counter() - started


def timed(search: Callable[[Sequence[str]], Any], queries: Sequence[Sequence[str]]) -> list[float]:
    """Milliseconds of each query's search."""
    out = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def percentiles(ms: Sequence[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms"


# ---- (a) an index per worker ------------------------------------------------------------------


def _memory(field: str) -> int:
    """Bytes of a /proc/self/status field: VmRSS now, VmHWM the peak (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak_memory() -> int:
    """Start VmHWM again from the resident size now (Linux), which it returns."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    return _memory("VmRSS")


def per_worker(url: str, queries: Sequence[Sequence[str]], new: Sequence[Sequence[str]], first: int
               ) -> tuple[dict[str, str], dict[str, list[str]]]:  # fmt: skip
    from sqlalchemy import create_engine

    from knowledge.base import KnowledgeBase
    from knowledge.catalog import Catalog
    from knowledge.keyword_index import KeywordIndex
    from knowledge.vector_store import MemoryVectorStore

    engines = [create_engine(url), create_engine(url)]
    writer_kb, kb = (
        KnowledgeBase(Catalog(e), MemoryVectorStore(), [], KeywordIndex()) for e in engines
    )
    out: dict[str, str] = {}
    started = time.perf_counter()
    ids, tokens = kb.catalog.all_tokens()
    read = time.perf_counter() - started
    rss_before = _reset_peak_memory()
    started = time.perf_counter()
    kb.keyword.build(ids, tokens, kb.catalog.revision(), kb.catalog.identity())
    build = time.perf_counter() - started
    del ids, tokens
    gc.collect()
    kept, peak = _memory("VmRSS") - rss_before, _memory("VmHWM") - rss_before
    out["rebuild: read tokens"] = f"{read:.2f} s"
    out["rebuild: build BM25"] = f"{build:.2f} s"
    out["memory kept (peak) by the build"] = f"{kept / 2**20:.0f} MiB ({peak / 2**20:.0f} MiB)"
    kb.keyword_index()  # warm
    out["query (index only)"] = percentiles(timed(lambda q: kb.keyword.search(q, K), queries))
    out["query (+ revision check)"] = percentiles(
        timed(lambda q: kb.keyword_index().search(q, K), queries)
    )
    top = {" ".join(q): [i for i, _ in kb.keyword.search(q, 10)] for q in queries}
    started = time.perf_counter()
    load_catalog(writer_kb.catalog, new, first)  # another worker's ingest
    committed = time.perf_counter()
    # the other worker searches on, as turns do, until the new item is found
    while item_id(first) not in [i for i, _ in kb.keyword_index().search(new[0], K)]:
        assert time.perf_counter() - committed < 600, "the new item is never found"
    seen = time.perf_counter()
    out[f"ingest of {len(new)} items (commit)"] = f"{(committed - started) * 1000:.0f} ms"
    out["consistency: until another worker finds it"] = f"{(seen - committed):.2f} s"
    for e in engines:
        e.dispose()
    return out, top


# ---- (b) BM25 inside PostgreSQL ---------------------------------------------------------------

BM25_SCHEMA = """
CREATE TABLE bm25_docs (chunk integer PRIMARY KEY, id text NOT NULL, len integer NOT NULL);
CREATE TABLE bm25_terms (term text NOT NULL, chunk integer NOT NULL, tf integer NOT NULL);
CREATE TABLE bm25_stats (n integer NOT NULL, avgdl double precision NOT NULL);
"""
# the terms' document frequencies, kept beside the terms (an ingest would update both)
BM25_INDEX = """
CREATE INDEX bm25_terms_term ON bm25_terms (term) INCLUDE (chunk, tf);
CREATE TABLE bm25_df AS SELECT term, count(*) AS df FROM bm25_terms GROUP BY term;
ALTER TABLE bm25_df ADD PRIMARY KEY (term);
ANALYZE bm25_docs; ANALYZE bm25_terms; ANALYZE bm25_df;
"""
# bm25s's default scoring ("lucene"): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
# term = idf * tf / (tf + k1 * (1 - b + b * len / avgdl))
BM25_QUERY = f"""
WITH df AS (SELECT term, df FROM bm25_df WHERE term = ANY(%(terms)s::text[])),
s AS (SELECT n, avgdl FROM bm25_stats)
SELECT d.id, sum(
    ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5))
    * t.tf / (t.tf + {K1} * (1 - {B} + {B} * d.len / s.avgdl))
) AS score
FROM bm25_terms t JOIN df USING (term) JOIN bm25_docs d USING (chunk) CROSS JOIN s
GROUP BY d.id ORDER BY score DESC LIMIT %(k)s
"""


def in_database(admin: str, items: Sequence[Sequence[str]], queries: Sequence[Sequence[str]],
                top: dict[str, list[str]]) -> dict[str, str]:  # fmt: skip
    import psycopg

    out: dict[str, str] = {}
    with (
        postgres_database(admin) as url,
        psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        ) as conn,
    ):
        conn.execute(BM25_SCHEMA)
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY bm25_docs (chunk, id, len) FROM STDIN") as copy:
                for n, toks in enumerate(items):
                    copy.write_row((n, item_id(n), len(toks)))
            with cur.copy("COPY bm25_terms (term, chunk, tf) FROM STDIN") as copy:
                for n, toks in enumerate(items):
                    for term, tf in Counter(toks).items():
                        copy.write_row((term, n, tf))
        avgdl = sum(len(t) for t in items) / len(items)
        conn.execute("INSERT INTO bm25_stats VALUES (%s, %s)", (len(items), avgdl))
        conn.execute(BM25_INDEX)
        out["load terms + index"] = f"{time.perf_counter() - started:.1f} s"
        rows = conn.execute("SELECT count(*) FROM bm25_terms").fetchone()
        size = conn.execute(
            "SELECT pg_total_relation_size('bm25_terms') + pg_total_relation_size('bm25_docs')"
        ).fetchone()
        out["term rows, size on disk"] = (
            f"{rows[0] if rows else 0:,}, {(size[0] if size else 0) / 2**20:.0f} MiB"
        )

        def search(q: Sequence[str], k: int) -> list[str]:
            return [r[0] for r in conn.execute(BM25_QUERY, {"terms": list(q), "k": k})]

        search(queries[0], K)  # warm
        out["query"] = percentiles(timed(lambda q: search(q, K), queries))
        agree = [
            len(set(search(q, 10)) & set(top[" ".join(q)])) / max(1, len(top[" ".join(q)]))
            for q in queries[:50]
        ]
        out["top 10 shared with (a)"] = f"{statistics.mean(agree):.0%}"
    return out


def main(argv: Sequence[str] | None = None) -> None:
    from eval.datasets import default_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10000, help="chunks in the catalog")
    parser.add_argument("--queries", type=int, default=200, help="questions searched")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("KEFU_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres"),
        help="libpq conninfo (no dbname) of a role that may create databases",
    )
    args = parser.parse_args(argv)
    from bot.conversation.sql import SqlConversationStore
    from knowledge.catalog import Catalog
    from knowledge.text import TOKENIZER_VERSION

    started = time.perf_counter()
    items, queries = synthetic_items(base_rows(default_root()), args.items + INGEST_ITEMS)
    items, new = items[: args.items], items[args.items :]
    queries = random.Random(7).sample(queries, min(args.queries, len(queries)))
    vocabulary = len({t for toks in items for t in toks})
    mean_len = sum(len(t) for t in items) / len(items)
    print(f"{args.items:,} items, {vocabulary:,} distinct terms, {mean_len:.0f} tokens an item, "
          f"{len(queries)} queries (made in {time.perf_counter() - started:.0f} s)")  # fmt: skip
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with postgres_database(args.postgres) as url:
        store = SqlConversationStore(url)  # the schema, as a worker migrates it
        catalog = Catalog(store.engine)
        catalog.set_meta("tokenizer", TOKENIZER_VERSION)
        loaded = load_catalog(catalog, items)
        store.close()
        print(f"catalog loaded in {loaded:.1f} s")
        worker, top = per_worker(url, queries, new, args.items)
    database = in_database(args.postgres, items, queries, top)
    width = max(len(k) for k in [*worker, *database]) + 2
    print(f"\n(a) BM25 index per worker, rebuilt from the catalog ({args.items:,} items)")
    for key, value in worker.items():
        print(f"  {key:<{width}}{value}")
    print(f"(b) BM25 inside PostgreSQL ({args.items:,} items)")
    for key, value in database.items():
        print(f"  {key:<{width}}{value}")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
