"""Evaluation sets for retrieval: knowledge chunks with labels, and queries with gold labels.

Each adapter turns one public data set (see `shared/datasets/README.md`) into an `EvalSet`:
chunks to index (every chunk's metadata carries `label` and `language`) and queries whose
`gold` names the label(s) of the chunks that answer them. The data sets are read from the
`shared/datasets/` folder next to the repository checkout (or `$KEFU_DATASETS`); nothing is
copied into the repository.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.settings import IngestSettings
from ingest.model import Chunk

DATASETS_ENV = "KEFU_DATASETS"


@dataclass(frozen=True)
class Query:
    text: str
    gold: frozenset[str]


@dataclass
class EvalSet:
    name: str
    language: str  # "en" or "zh": the language of the queries and the knowledge
    chunks: list[Chunk]
    queries: list[Query]
    notes: dict[str, Any] = field(default_factory=dict)  # counts of skipped items, etc.

    def label_of(self) -> dict[str, str]:
        return {c.id: str(c.metadata["label"]) for c in self.chunks}

    def limited(self, limit: int | None, seed: int = 13) -> EvalSet:
        """The same knowledge with at most `limit` queries, drawn deterministically."""
        if limit is None or limit >= len(self.queries):
            return self
        picked = sorted(random.Random(seed).sample(range(len(self.queries)), limit))
        notes = {**self.notes, "queries_total": len(self.queries), "limit": limit, "seed": seed}
        return replace(self, queries=[self.queries[i] for i in picked], notes=notes)


def default_root() -> Path:
    """`$KEFU_DATASETS`, else the `shared/datasets/` folder next to the repository checkout."""
    env = os.environ.get(DATASETS_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _chunk(source: str, locator: str, text: str, label: str, language: str) -> Chunk:
    return Chunk.build(source, locator, text, {"label": label, "language": language})


# ---- CLINC150 ----------------------------------------------------------------------------------


def clinc150(root: Path) -> EvalSet:
    """Each `train` utterance is an item labelled with its intent; `test` utterances query them."""
    data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    chunks = [
        _chunk("clinc150", f"train={i}", text, intent, "en")
        for i, (text, intent) in enumerate(data["train"])
    ]
    for chunk in chunks:
        # A FAQ whose rows are paraphrases of 150 questions: the row's answer is its intent, so
        # rows of one intent are one answer (the answerer groups them; retrieval ignores it).
        chunk.metadata["question"] = chunk.text
        chunk.metadata["answer"] = chunk.metadata["label"]
    queries = [Query(text, frozenset({intent})) for text, intent in data["test"]]
    return EvalSet("clinc150", "en", chunks, queries)


CLINC150_SMALL_PER_INTENT = 20


def clinc150_small(root: Path) -> EvalSet:
    """CLINC150 with the first 20 `train` utterances of each intent as the knowledge (3,000
    items instead of 15,000): the same task at a fifth of the embedding, for a busy machine."""
    full = clinc150(root)
    seen: dict[str, int] = {}
    chunks = []
    for chunk in full.chunks:
        label = str(chunk.metadata["label"])
        seen[label] = seen.get(label, 0) + 1
        if seen[label] <= CLINC150_SMALL_PER_INTENT:
            chunks.append(chunk)
    notes = {"items_per_intent": CLINC150_SMALL_PER_INTENT}
    return EvalSet("clinc150_small", "en", chunks, full.queries, notes)


# ---- StackFAQ ----------------------------------------------------------------------------------


def stackfaq(root: Path) -> EvalSet:
    """Items are "question\\nanswer" pairs labelled with their thread; rephrasings query them.

    The file holds one `qapair` per StackExchange thread: the thread's question, its top answers
    (a list, or one string) and eleven paraphrases of the question (some are "*" or null).
    Each item's metadata names its question, as the spreadsheet loader's would, so the
    knowledge base gives it a second vector of the question alone.
    """
    data = json.loads((root / "stackfaq" / "stackExchange-FAQ.json").read_text(encoding="utf-8"))
    chunks: list[Chunk] = []
    queries: list[Query] = []
    skipped = 0
    for t, thread in enumerate(data["root"]["qapair"]):
        label = f"thread-{t}"
        answers = thread["answer"]
        if isinstance(answers, str):
            answers = [answers]
        question = (thread.get("question") or "").strip()
        for a, answer in enumerate(answers):
            text = f"{question}\n{(answer or '').strip()}".strip()
            chunk = _chunk("stackfaq", f"thread={t};answer={a}", text, label, "en")
            # As a question/answer sheet is loaded: the question is known, so the knowledge
            # base also embeds it alone.
            chunk.metadata["question"] = question
            chunk.metadata["answer"] = (answer or "").strip()
            chunks.append(chunk)
        for rephrased in thread.get("rephr") or []:
            text = (rephrased or "").strip()
            if not text or text == "*":
                skipped += 1
                continue
            queries.append(Query(text, frozenset({label})))
    return EvalSet("stackfaq", "en", chunks, queries, {"skipped_rephrasings": skipped})


# ---- DRCD --------------------------------------------------------------------------------------


def drcd(root: Path) -> EvalSet:
    """DRCD dev paragraphs, split by kefu's chunker as a PDF page would be; gold = paragraph.

    A hit counts when any chunk of the right paragraph ranks first.
    """
    from ingest.chunking import chunk_items
    from ingest.model import Item, LoadResult

    data = json.loads((root / "drcd" / "DRCD_dev.json").read_text(encoding="utf-8"))
    items: list[Item] = []
    queries: list[Query] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            pid = str(paragraph["id"])
            items.append(Item(paragraph["context"], f"paragraph={pid}", {"label": pid}))
            for qa in paragraph["qas"]:
                queries.append(Query(qa["question"].strip(), frozenset({pid})))
    settings = IngestSettings()
    chunks = chunk_items(
        LoadResult("drcd", items),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
    )
    notes = {"paragraphs": len(items), "chunk_size": settings.chunk_size}
    return EvalSet("drcd", "zh", chunks, queries, notes)


# ---- Taipei City FAQ ---------------------------------------------------------------------------

TAIPEI_MIN_ANSWER = 5  # answers shorter than this ("不可。", "") cannot be found by content
TAIPEI_COLUMNS = ("答案", "機關")  # the question (and its keywords) are left out of the index
_ROW = re.compile(r"row=(\d+)")


def _write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "FAQ"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _load_chunks(path: Path, source: str) -> tuple[list[Chunk], list[str]]:
    """Chunks of a file through kefu's own loaders and chunker, with the loader's problems."""
    from ingest.chunking import chunk_items
    from ingest.loaders import load_file
    from knowledge.ingestion import IngestOptions

    options = IngestOptions()
    loaded = load_file(path, source=source, max_bytes=options.max_bytes)
    chunks = chunk_items(loaded, chunk_size=options.chunk_size, chunk_overlap=options.chunk_overlap)
    return list(chunks), [str(p) for p in loaded.problems]


def _row_of(locator: str) -> int:
    match = _ROW.search(locator)
    if match is None:
        raise ValueError(f"taipei_faq: cannot find the row in locator {locator!r}")
    return int(match.group(1))


def taipei_faq(root: Path) -> EvalSet:
    """Answer-only items of the Taipei City FAQ, queried with the FAQ's own questions.

    The JSONL is written out as an XLSX (and a CSV, loaded as a cross-check) holding only the
    answer and the department, and read back through `ingest.loaders` and `ingest.chunking`,
    so the question text is never indexed. Items whose answer is near-empty are skipped.
    Items with identical indexed text cannot be told apart, so a question's gold is every item
    that has the same text as its own.
    """
    lines = (root / "taipei_faq" / "taipei_faq.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    kept = [r for r in records if len((r.get("answer") or "").strip()) >= TAIPEI_MIN_ANSWER]
    kept = [r for r in kept if (r.get("question") or "").strip()]
    rows = [((r["answer"] or "").strip(), (r.get("dept") or "").strip()) for r in kept]
    # Same indexed text, same label set: a question about either item is answered by both.
    by_text: dict[tuple[str, ...], set[str]] = {}
    for r, row in zip(kept, rows, strict=True):
        by_text.setdefault(row, set()).add(str(r["id"]))

    with tempfile.TemporaryDirectory(prefix="kefu-eval-taipei-") as tmp:
        xlsx, csv_path = Path(tmp) / "taipei_faq.xlsx", Path(tmp) / "taipei_faq.csv"
        _write_xlsx(xlsx, TAIPEI_COLUMNS, rows)
        _write_csv(csv_path, TAIPEI_COLUMNS, rows)
        loaded, problems = _load_chunks(xlsx, "taipei_faq")
        csv_chunks, csv_problems = _load_chunks(csv_path, "taipei_faq.csv")

    chunks: list[Chunk] = []
    unmapped = 0
    for c in loaded:
        index = _row_of(c.locator) - 2  # row 1 is the header
        if not 0 <= index < len(kept):
            unmapped += 1
            continue
        language = c.metadata.get("language") or "zh"
        metadata = {**c.metadata, "label": str(kept[index]["id"]), "language": language}
        chunks.append(replace(c, metadata=metadata))
    queries = [
        Query(r["question"].strip(), frozenset(by_text[row]))
        for r, row in zip(kept, rows, strict=True)
    ]
    per_label: dict[str, int] = {}
    for c in chunks:
        per_label[c.metadata["label"]] = per_label.get(c.metadata["label"], 0) + 1
    notes = {
        "records": len(records),
        "skipped_near_empty_answers": len(records) - len(kept),
        "items": len(kept),
        "chunks": len(chunks),
        "items_split_into_several_chunks": sum(1 for n in per_label.values() if n > 1),
        "items_without_chunks": len(kept) - len(per_label),
        "queries_with_several_gold_items": sum(1 for q in queries if len(q.gold) > 1),
        "unmapped_chunks": unmapped,
        "xlsx_problems": len(problems),
        "xlsx_problem_examples": problems[:3],
        "csv_chunks": len(csv_chunks),
        "csv_problems": len(csv_problems),
        "csv_same_texts_as_xlsx": sorted(c.text for c in csv_chunks)
        == sorted(c.text for c in loaded),
    }
    return EvalSet("taipei_faq", "zh", chunks, queries, notes)


# ---- the demo shop ------------------------------------------------------------------------------

SHOP_FILES = {"shop_faq.xlsx": "", "orders_export.csv": "orders", "policy.pdf": "policy"}
SHOP_QUERIES = Path(__file__).resolve().parent / "data" / "shop_queries.tsv"
SHOP_DIR = Path(__file__).resolve().parents[1] / "knowledge" / "demo" / "files"


def _shop_label(source: str, metadata: dict[str, Any]) -> str:
    """Item names as `eval/data/shop_queries.tsv` writes them: 退換貨!4, orders!5, policy!1."""
    if source == "policy.pdf":
        return f"policy!{metadata['page']}"
    sheet = str(metadata.get("sheet") or "")
    prefix = "EN" if sheet == "English FAQ" else sheet or SHOP_FILES[source]
    return f"{prefix}!{metadata['row']}"


def shop(root: Path) -> EvalSet:
    """The demo shop's knowledge (FAQ sheets with question columns, a helpdesk export, a policy
    PDF) through kefu's loaders, queried with everyday wordings written for this evaluation
    (`eval/data/shop_queries.tsv`).

    Unlike the public sets this one is small (74 questions) and made by the project; it is the
    only set where FAQ rows carry their own question, as most shops' FAQ files do. `root` is
    unused: the files ship with kefu (`knowledge/demo/files`).
    """
    chunks: list[Chunk] = []
    for name in SHOP_FILES:
        loaded, _ = _load_chunks(SHOP_DIR / name, name)
        for c in loaded:
            label = _shop_label(name, c.metadata)
            language = c.metadata.get("language") or "zh"
            chunks.append(replace(c, metadata={**c.metadata, "label": label, "language": language}))
    known = {str(c.metadata["label"]) for c in chunks}
    queries: list[Query] = []
    for line in SHOP_QUERIES.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, gold = line.split("\t")
        labels = frozenset(gold.split())
        if labels - known:
            raise ValueError(f"{SHOP_QUERIES.name}: unknown items {sorted(labels - known)}")
        queries.append(Query(text.strip(), labels))
    return EvalSet("shop", "zh", chunks, queries, {"items": len(known)})


ADAPTERS: dict[str, Callable[[Path], EvalSet]] = {
    "clinc150": clinc150,
    "clinc150_small": clinc150_small,
    "stackfaq": stackfaq,
    "drcd": drcd,
    "taipei_faq": taipei_faq,
    "shop": shop,
}


def load(name: str, root: Path | None = None, limit: int | None = None, seed: int = 13) -> EvalSet:
    """The evaluation set `name` (one of `ADAPTERS`), optionally with `limit` sampled queries."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(ADAPTERS)}")
    root = root or default_root()
    if not root.is_dir():
        raise FileNotFoundError(
            f"data sets folder {root} not found; set ${DATASETS_ENV} to the shared/datasets folder"
        )
    return ADAPTERS[name](root).limited(limit, seed)
