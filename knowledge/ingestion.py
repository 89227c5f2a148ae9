"""Ingesting files into the knowledge base: one source per file, failures isolated per file."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import chunk_items
from ingest.loaders import SUPPORTED_EXTENSIONS, load_file
from ingest.model import LoadBudgets, LoadError, Problem
from knowledge.base import KnowledgeBase
from knowledge.diff import SourceDiff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    chunk_size: int = 100  # see bot.settings.IngestSettings
    chunk_overlap: int = 10
    max_bytes: int = 20 * 1024 * 1024
    budgets: LoadBudgets = field(default_factory=LoadBudgets)  # cells, text, pages, unzipped
    dry_run: bool = False
    force: bool = False  # read every file again even if its bytes did not change


@dataclass
class FileOutcome:
    source: str
    path: Path
    diff: SourceDiff | None = None
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False  # same bytes and settings as the last successful ingest

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    removed_sources: dict[str, int] = field(default_factory=dict)  # source → chunks removed

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.failed]

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class FileToIngest:
    path: Path
    source: str
    origin: str  # the folder that was ingested, so files deleted from it can be dropped


def discover(
    paths: Sequence[Path], origins: Mapping[Path, str] | None = None
) -> tuple[list[FileToIngest], list[str]]:
    """Files to ingest under `paths`, and the origins of the folders that were scanned whole.
    A file's origin is its folder, or what `origins` names for that folder (the uploads a job
    wrote into a temporary folder are recorded as such, not as where they were written)."""
    named = {folder.resolve(): origin for folder, origin in (origins or {}).items()}
    found: list[FileToIngest] = []
    folders: list[str] = []
    for raw in paths:
        path = raw.resolve()
        if path.is_dir():
            origin = named.get(path, str(path))
            folders.append(origin)
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                inside = f.relative_to(path).parts
                if f.name.startswith("~$") or any(part.startswith(".") for part in inside):
                    continue  # editor lock files and hidden files or folders are not knowledge
                found.append(FileToIngest(f, f.relative_to(path).as_posix(), origin))
        else:
            found.append(FileToIngest(path, path.name, named.get(path.parent, str(path.parent))))
    return found, folders


def _fingerprint(path: Path, kb: KnowledgeBase, options: IngestOptions) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    settings = f"{options.chunk_size}/{options.chunk_overlap}/" + ",".join(
        e.name for e in kb.embedders
    )
    digest.update(settings.encode())
    return digest.hexdigest()[:32]


def ingest_paths(
    kb: KnowledgeBase,
    paths: Sequence[Path],
    options: IngestOptions | None = None,
    *,
    on_file: Callable[[FileOutcome], None] | None = None,
    on_embedded: Callable[[int], None] | None = None,
    origins: Mapping[Path, str] | None = None,
) -> IngestReport:
    """Bring the knowledge base in line with the files under `paths`.

    Each file is loaded, chunked and synced on its own: a file that fails keeps the chunks it
    had, and the others go on. Sources that came from a scanned folder and are no longer in it
    are removed. `origins`: what to record as the origin of the files of some folders.
    """
    options = options or IngestOptions()
    files, folders = discover(paths, origins)
    report = IngestReport()
    for f in files:
        outcome = _ingest_one(kb, f, options, on_embedded)
        report.files.append(outcome)
        if on_file:
            on_file(outcome)
    seen = {f.source for f in files}
    for record in kb.catalog.sources():
        if record.origin in folders and record.name not in seen:
            report.removed_sources[record.name] = record.items
            if not options.dry_run:
                kb.drop_source(record.name)
                log.info("ingest.source.removed source=%s", record.name)
    return report


def _ingest_one(
    kb: KnowledgeBase,
    f: FileToIngest,
    options: IngestOptions,
    on_embedded: Callable[[int], None] | None,
) -> FileOutcome:
    outcome = FileOutcome(f.source, f.path)
    if f.path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        outcome.error = (
            f"{f.source}: unsupported file type '{f.path.suffix or '(none)'}'; "
            f"kefu reads {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
        )
        return outcome
    try:
        fingerprint = _fingerprint(f.path, kb, options)
        previous = kb.catalog.source(f.source)
        if (
            not options.force
            and previous is not None
            and previous.status == "ok"
            and previous.fingerprint == fingerprint
        ):
            outcome.skipped = True
            outcome.diff = SourceDiff(f.source, unchanged=previous.items)
            return outcome
        loaded = load_file(
            f.path, source=f.source, max_bytes=options.max_bytes, budgets=options.budgets
        )
        outcome.problems = list(loaded.problems)
        chunks = chunk_items(
            loaded, chunk_size=options.chunk_size, chunk_overlap=options.chunk_overlap
        )
        outcome.diff = kb.sync_source(
            f.source,
            chunks,
            origin=f.origin,
            fingerprint=fingerprint,
            dry_run=options.dry_run,
            progress=on_embedded,
        )
    except LoadError as exc:
        outcome.error = str(exc)
    except OSError as exc:
        outcome.error = f"{f.source}: cannot read the file ({exc.strerror or exc})"
    if outcome.error:
        log.warning("ingest.file.failed source=%s", f.source)
        if not options.dry_run:
            kb.mark_failed(f.source, outcome.error, f.origin)
    return outcome
