"""The knowledge files an admin manages: uploads kept under `<data dir>/sources/`, and ingest
jobs that run in the background with their progress and per-file diff.

Jobs run in two lanes, one job at a time in each: a job whose files hold more than
LARGE_JOB_BYTES runs in the large lane, so a huge file never holds up a small one. Two jobs
that read the same file never run at once, and one that reads every source runs alone. A job
can be cancelled: a queued one never starts; a running one stops after the batch it is
embedding. Either way the file it was reading keeps the items it served before (a replacement
is put back, a new file that never served is removed, as the sources list shows it).

A replaced file that fails to ingest is put back as it was, so what was serving keeps serving
and the file to download is the one whose knowledge the bot uses.

The jobs are kept in `<data dir>/ingest_jobs.json`, rewritten (atomically) at each step, so a
job outlives the process: one that was queued or running when the process died reads as failed
("interrupted by a restart") on the next start, and its files are set straight then (a
replacement whose new version never served is put back; a new file that never served is
removed). A file beside the knowledge base rather than a table of the conversation store: the
jobs belong to the knowledge of this data dir, which one process serves (its Chroma directory
is that process's), and `kefu ingest` has no conversation store at all.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ingest.loaders import SUPPORTED_EXTENSIONS
from knowledge.base import KnowledgeBase
from knowledge.ingestion import FileOutcome, IngestOptions, _fingerprint, ingest_paths

log = logging.getLogger(__name__)

SOURCES_DIR = "sources"
PREVIOUS_DIR = ".previous"  # the version a replacement may have to fall back to
JOBS_FILE = "ingest_jobs.json"
INTERRUPTED = "interrupted by a restart"
ENDED = ("done", "failed", "cancelled")
LANES = ("small", "large")
# A job whose files hold more than this runs in the large lane.
LARGE_JOB_BYTES = 2 * 1024 * 1024
KEPT_JOBS = 20
CHUNK = 1 << 20


class LibraryError(ValueError):
    """An upload or a request the library refuses; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class FileReport:
    source: str
    outcome: str  # added, changed, unchanged, failed, removed
    added: int = 0
    changed: int = 0
    removed: int = 0
    moved: int = 0
    unchanged: int = 0
    embedded: int = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class IngestJob:
    id: str
    label: str
    state: str = "queued"  # queued, running, done, failed, cancelled
    lane: str = "small"  # small or large (more than LARGE_JOB_BYTES of files)
    bytes_total: int = 0  # of the files it reads
    cancelling: bool = False  # a cancel was asked while it ran; it stops after its batch
    started_at: datetime | None = None
    finished_at: datetime | None = None
    files_total: int = 0
    files_done: int = 0
    current: str | None = None
    embedded: int = 0
    error: str | None = None
    files: list[FileReport] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the managed files it was asked to read

    @classmethod
    def kept(cls, data: dict[str, Any]) -> IngestJob:
        """A job as the jobs file holds it."""
        values = dict(data)
        for key in ("started_at", "finished_at"):
            at = values.get(key)
            values[key] = datetime.fromisoformat(at) if isinstance(at, str) else None
        values["files"] = [FileReport(**f) for f in values.get("files") or []]
        return cls(**values)


class KnowledgeLibrary:
    def __init__(
        self,
        kb: KnowledgeBase,
        data_dir: Path,
        options: IngestOptions,
        after_ingest: Callable[[], object] | None = None,
    ) -> None:
        self.kb = kb
        self.folder = data_dir / SOURCES_DIR
        self.options = options
        self.after_ingest = after_ingest or (lambda: None)  # e.g. refit the answer classifier
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._wake = threading.Condition(self._lock)
        self._workers: dict[str, threading.Thread] = {}  # lane → its worker, while it has work
        self._running: dict[str, _Queued] = {}  # lane → the job it runs
        self._jobs_file = data_dir / JOBS_FILE
        self._recover()

    # ---- the jobs file --------------------------------------------------------------------

    def _recover(self) -> None:
        """Read the jobs a previous process kept; those it left queued or running failed."""
        try:
            kept = json.loads(self._jobs_file.read_text(encoding="utf-8"))
            jobs = [IngestJob.kept(j) for j in kept]
        except FileNotFoundError:
            jobs = []
        except (ValueError, TypeError):
            log.exception("ingest.jobs_file_unreadable")
            jobs = []
        interrupted = [j for j in jobs if j.state in ("queued", "running")]
        for job in interrupted:
            if job.cancelling:  # it was stopping anyway
                job.state, job.error = "cancelled", None
            else:
                job.state, job.error = "failed", INTERRUPTED
            job.current, job.cancelling = None, False
            job.finished_at = datetime.now(UTC)
            for name in job.sources:
                note = self._set_straight(name)
                if note is not None:
                    _report_on(job, name).problems.append(note)
        # a replacement saved just before the process died, with no job yet
        leftovers = self.folder / PREVIOUS_DIR
        for previous in sorted(leftovers.iterdir()) if leftovers.is_dir() else []:
            if previous.is_file():
                self._set_straight(previous.name)
        self._jobs = OrderedDict((j.id, j) for j in jobs[-KEPT_JOBS:])
        if interrupted:
            log.warning("ingest.jobs_interrupted", extra={"jobs": len(interrupted)})
            self._save()

    def _set_straight(self, name: str) -> str | None:
        """A managed file a job was reading when the process died: the version whose items
        serve stays. What was done, for the job's report (None: nothing to do)."""
        managed = self.folder / name
        previous = self.folder / PREVIOUS_DIR / name
        record = self.kb.catalog.source(name)
        if previous.is_file():
            new_serving = (
                record is not None
                and managed.is_file()
                and record.fingerprint == _fingerprint(managed, self.kb, self.options)
            )
            note = None if new_serving else "the previous version of the file was put back"
            if not new_serving:
                shutil.copy2(previous, managed)
            previous.unlink()
            return note
        if record is None and managed.is_file():
            managed.unlink()  # a new file that never served: it has to be uploaded again
            return "the file never served and was removed: upload it again"
        return None

    def _save(self) -> None:
        """Write the jobs file (under the lock): a new file, then renamed over the old one."""
        kept = [asdict(j) for j in self._jobs.values()]
        part = self._jobs_file.with_name(f".{JOBS_FILE}.part")
        self._jobs_file.parent.mkdir(parents=True, exist_ok=True)
        part.write_text(json.dumps(kept, ensure_ascii=False, default=_iso), encoding="utf-8")
        os.replace(part, self._jobs_file)

    def _saved(self) -> None:
        with self._lock:
            self._save()

    # ---- files ----------------------------------------------------------------------------

    def save(self, name: str, stream: BinaryIO, *, replace: bool = False) -> Path:
        """Keep an uploaded file under its name. Refuses unsupported, empty and too large
        files (nothing is written then) and, without `replace`, a name that is taken."""
        name = _safe_name(name)
        if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
            raise LibraryError(
                "unsupported_file", f"{name}: kefu reads {supported}; this file is not one"
            )
        if not replace and (self.kb.catalog.source(name) is not None or self.path(name)):
            raise LibraryError("source_exists", f"a source named {name} exists already")
        self.folder.mkdir(parents=True, exist_ok=True)
        incoming = self.folder / f".{uuid.uuid4().hex}.part"
        size = 0
        try:
            with incoming.open("wb") as out:
                for block in iter(lambda: stream.read(CHUNK), b""):
                    size += len(block)
                    if size > self.options.max_bytes:
                        limit = self.options.max_bytes // (1024 * 1024)
                        raise LibraryError(
                            "file_too_large", f"{name} is larger than the {limit} MB limit"
                        )
                    out.write(block)
            if size == 0:
                raise LibraryError("empty_file", f"{name} is empty")
            target = self.folder / name
            if target.exists():
                previous = self.folder / PREVIOUS_DIR
                previous.mkdir(exist_ok=True)
                shutil.copy2(target, previous / name)
            incoming.replace(target)
            return target
        finally:
            incoming.unlink(missing_ok=True)

    def path(self, name: str) -> Path | None:
        """The file of a source on disk: the managed copy, else where it was ingested from."""
        managed = self.folder / name
        if managed.is_file():
            return managed
        record = self.kb.catalog.source(name)
        if record is not None and record.origin:
            elsewhere = Path(record.origin) / name
            if elsewhere.is_file():
                return elsewhere
        return None

    def is_managed(self, name: str) -> bool:
        return (self.folder / name).is_file()

    def delete(self, name: str) -> int:
        """Drop a source from the knowledge base (and its managed file); items removed."""
        if self.kb.catalog.source(name) is None and not self.is_managed(name):
            raise LibraryError("source_not_found", f"no source named {name}")
        removed = self.kb.drop_source(name)
        (self.folder / name).unlink(missing_ok=True)
        (self.folder / PREVIOUS_DIR / name).unlink(missing_ok=True)
        return removed

    # ---- ingest jobs ----------------------------------------------------------------------

    def ingest(self, names: list[str] | None = None, label: str = "") -> IngestJob:
        """Queue an ingest of some sources (by name), or of all whose file is on disk."""
        if names is None:
            paths: list[Path] = [self.folder] if self.folder.is_dir() else []
            for record in self.kb.catalog.sources():
                found = self.path(record.name)
                if found is not None and found.parent != self.folder:
                    paths.append(found)
            label = label or "all sources"
        else:
            paths = [self.folder / _safe_name(n) for n in names]
            label = label or ", ".join(names)
        fallbacks = {
            p.name: self.folder / PREVIOUS_DIR / p.name
            for p in paths
            if p.parent == self.folder and (self.folder / PREVIOUS_DIR / p.name).is_file()
        }
        files = list(_files(paths))
        managed = [p.name for p in files if p.parent == self.folder]
        size = sum(_size(p) for p in files)
        lane = "large" if size > LARGE_JOB_BYTES else "small"
        job = IngestJob(uuid.uuid4().hex[:12], label, lane=lane, bytes_total=size, sources=managed)
        queued = _Queued(job, paths, fallbacks, every=names is None)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEPT_JOBS:
                self._jobs.popitem(last=False)
            self._save()
            self._queue.append(queued)
            worker = self._workers.get(lane)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._work, args=(lane,), name=f"ingest-{lane}", daemon=True
                )
                self._workers[lane] = worker
                worker.start()
            self._wake.notify_all()
        return job

    def cancel(self, job_id: str) -> IngestJob:
        """Cancel a job: a queued one ends at once, a running one after the batch it embeds.
        Either way, the files it has not finished keep what they served before."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise LibraryError("job_not_found", f"no ingest job {job_id}")
            if job.state in ENDED:
                raise LibraryError("job_ended", f"ingest job {job_id} is {job.state} already")
            waiting = next((q for q in self._queue if q.job is job), None)
            if waiting is not None:
                self._queue.remove(waiting)
                self._set_back(waiting, served=set())
                job.state, job.finished_at = "cancelled", datetime.now(UTC)
            else:
                job.cancelling = True
            self._save()
            self._wake.notify_all()
            return job

    def job(self, job_id: str) -> IngestJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[IngestJob]:
        with self._lock:
            return list(reversed(self._jobs.values()))

    def wait(self, job_id: str, timeout: float = 300) -> IngestJob:
        """Block until the job has ended (done, failed or cancelled): for the command line
        and tests."""
        deadline = datetime.now(UTC).timestamp() + timeout
        with self._lock:
            while True:
                job = self._jobs[job_id]
                if job.state in ENDED:
                    return job
                left = deadline - datetime.now(UTC).timestamp()
                if left <= 0:
                    raise TimeoutError(f"ingest job {job_id} still {job.state}")
                self._wake.wait(min(left, 0.5))

    def _work(self, lane: str) -> None:
        """One lane's worker: its jobs in order, each once no running job reads its files."""
        while True:
            with self._lock:
                mine = [q for q in self._queue if q.job.lane == lane]
                if not mine:
                    del self._workers[lane]
                    return
                ready = next((q for q in mine if not self._overlaps(q)), None)
                if ready is None:
                    self._wake.wait(1.0)  # the other lane has the files: until it is done
                    continue
                self._queue.remove(ready)
                self._running[lane] = ready
            try:
                self._run(ready)
            finally:
                with self._lock:
                    del self._running[lane]
                    self._wake.notify_all()

    def _overlaps(self, queued: _Queued) -> bool:
        """Whether a running job reads one of the files of `queued` (a job over every source
        overlaps all)."""
        for running in self._running.values():
            if queued.every or running.every:
                return True
            if set(queued.job.sources) & set(running.job.sources):
                return True
        return False

    def _set_back(self, queued: _Queued, served: set[str]) -> None:
        """The files of a job that ended without serving them: a replacement's previous
        version is put back, a new file that never served is removed."""
        job = queued.job
        for source, previous in queued.fallbacks.items():
            if source not in served and previous.is_file():
                shutil.copy2(previous, self.folder / source)
                for f in job.files:
                    if f.source == source:
                        f.problems.append("the previous version of the file was put back")
            previous.unlink(missing_ok=True)
        for source in job.sources:
            if (
                source not in served
                and source not in queued.fallbacks
                and self.kb.catalog.source(source) is None
            ):
                (self.folder / source).unlink(missing_ok=True)  # listed nowhere: never served

    def _run(self, queued: _Queued) -> None:
        job, paths, fallbacks = queued.job, queued.paths, queued.fallbacks
        job.state, job.started_at = "running", datetime.now(UTC)
        job.files_total = sum(1 for _ in _files(paths))
        self._saved()
        served: set[str] = set()  # sources whose new file was read and is now serving

        def stop_if_cancelled() -> None:
            if job.cancelling:
                raise IngestCancelled(job.id)

        def on_file(outcome: FileOutcome) -> None:
            job.files_done += 1
            job.current = outcome.source
            report = _report(outcome)
            if outcome.skipped:  # same bytes as last time: all its items are unchanged
                record = self.kb.catalog.source(outcome.source)
                report.unchanged = record.items if record is not None else 0
            if not outcome.failed:
                served.add(outcome.source)
            job.files.append(report)
            self._saved()
            stop_if_cancelled()  # before the next file

        def on_embedded(n: int) -> None:
            job.embedded += n
            stop_if_cancelled()  # the knowledge base takes back what this file embedded

        try:
            stop_if_cancelled()
            report = ingest_paths(
                self.kb, paths, self.options, on_file=on_file, on_embedded=on_embedded
            )
            for source, n in report.removed_sources.items():
                job.files.append(FileReport(source, "removed", removed=n))
            for failed in report.failed:
                if failed.source not in fallbacks and failed.path.parent == self.folder:
                    failed.path.unlink(missing_ok=True)  # a new file that never served
            self.after_ingest()
            ended: tuple[str, str | None] = ("done", None)
        except IngestCancelled:
            log.info("ingest.job_cancelled", extra={"job": job.id})
            if served:
                self.after_ingest()  # the files finished before the cancel serve
            ended = ("cancelled", None)
        except Exception as exc:  # the job reports it; the server goes on serving
            log.exception("ingest job %s failed", job.id)
            ended = ("failed", f"{type(exc).__name__}: {exc}")
        finally:
            # Whatever stopped a replacement (a bad file, a broken job, a cancel), the file put
            # back is the one whose items are serving, so it is the one to download.
            with self._lock:
                self._set_back(queued, served)
            job.current = None
            job.finished_at = datetime.now(UTC)
        # Only now, with every file put back and reported, does the job read as ended: a client
        # polling it must never see "done" before the report it will read is complete.
        job.state, job.error, job.cancelling = *ended, False
        self._saved()


@dataclass
class _Queued:
    """A job with what it reads: the paths, the previous versions of the files it replaces,
    and whether it reads every source."""

    job: IngestJob
    paths: list[Path]
    fallbacks: dict[str, Path]
    every: bool = False


class IngestCancelled(Exception):
    """Raised inside a running job that was cancelled, to stop it where it is."""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not kept in the jobs file")


def _report_on(job: IngestJob, source: str) -> FileReport:
    """The job's report on a file, added when the job never got to it."""
    for report in job.files:
        if report.source == source:
            return report
    job.files.append(FileReport(source, "failed"))
    return job.files[-1]


def _files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from (
                f
                for f in p.rglob("*")
                if f.is_file()
                and not f.name.startswith("~$")
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.exists():
            yield p


def _report(outcome: FileOutcome) -> FileReport:
    problems = [str(p) for p in outcome.problems]
    if outcome.failed:
        return FileReport(outcome.source, "failed", error=outcome.error, problems=problems)
    d = outcome.diff
    if outcome.skipped or d is None:
        return FileReport(outcome.source, "unchanged", problems=problems)
    kind = "added" if d.unchanged == 0 and not d.removed and not d.changed else "changed"
    if not d.added and not d.changed and not d.removed and not d.moved:
        kind = "unchanged"
    return FileReport(
        outcome.source,
        kind,
        added=len(d.added),
        changed=len(d.changed),
        removed=len(d.removed),
        moved=d.moved,
        unchanged=d.unchanged,
        embedded=d.embedded,
        problems=problems,
    )


def _safe_name(name: str) -> str:
    """A file name of the sources folder: no folders, no hidden or partial files."""
    base = Path(name.replace("\\", "/")).name.strip()
    if not base or base.startswith(".") or base.startswith("~$") or len(base) > 200:
        raise LibraryError("invalid_name", f"{name!r} is not a usable file name")
    return base
