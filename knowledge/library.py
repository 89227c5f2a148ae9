"""The knowledge files an admin manages and the ingest jobs that read them, shared by every kefu
worker through the SQL database: uploads are kept in it (knowledge/source_files.py), and so are
the jobs with their progress and per-file diff (knowledge/ingest_jobs.py), so any worker lists,
serves for download, runs or cancels them, and nothing on a worker's own disk matters.

Each worker runs jobs in two lanes, one job at a time in each: a job whose files hold more than
LARGE_JOB_BYTES runs in the large lane, so a huge file never holds up a small one. A queued job
is claimed by exactly one worker, the first to look; workers look every `poll_s` seconds (a
worker that queues a job looks at once, and with a `signal`, Redis pub/sub, so do the others,
and again when a job ends). Two jobs that read the same file never run at once,
on one worker or two, and one that reads every source runs alone. A job can be cancelled from
any worker: a queued one never starts; a running one stops after the batch it is embedding
(its worker reads the cancel between batches). Either way the file it was reading keeps the
items it served before (a replacement is put back, a new file that never served is removed, as
the sources list shows it).

A replaced file that fails to ingest is put back as it was, so what was serving keeps serving
and the file to download is the one whose knowledge the bot uses.

The worker running a job holds a lease on it, renewed every third of `lease` while the worker
lives. A job whose lease ran out (its worker was killed) reads as failed ("interrupted") once
another worker, or this one restarted, notices, and its files are set straight then (a
replacement whose new version never served is put back; a new file that never served is
removed). Leases are read against each worker's clock: the workers' clocks are taken to agree
to well within a lease. Queued jobs wait for any worker, across restarts. The loaders read
paths, so a job writes the files it reads into a temporary folder first.

A data dir of an earlier kefu, with its `ingest_jobs.json` and `sources/` folder, is taken
over on the first start (knowledge/takeover.py).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ingest.loaders import SUPPORTED_EXTENSIONS
from knowledge import ingest_jobs, source_files
from knowledge.base import KnowledgeBase
from knowledge.catalog import SourceRecord
from knowledge.database import writer
from knowledge.ingest_jobs import ENDED, FileReport, IngestJob
from knowledge.ingestion import FileOutcome, IngestOptions, _fingerprint, ingest_paths
from knowledge.job_signal import RedisJobSignal
from knowledge.source_files import StoredFile
from knowledge.takeover import take_over

__all__ = ["ENDED", "FileReport", "IngestJob", "KnowledgeLibrary", "LibraryError", "SourceFile"]

log = logging.getLogger(__name__)

UPLOADED = "uploaded"  # the origin the catalog records for the files kept in the database
INTERRUPTED = "interrupted: the worker running it stopped"
PUT_BACK = "the previous version of the file was put back"
REMOVED = "the file never served and was removed: upload it again"
LANES = ("small", "large")
# A job whose files hold more than this runs in the large lane.
LARGE_JOB_BYTES = 2 * 1024 * 1024
CHUNK = 1 << 20
LEASE = timedelta(seconds=30)
POLL_S = 1.0
PROGRESS_S = 0.5  # the embedded count is written at most this often (the cancel read always)


class LibraryError(ValueError):
    """An upload or a request the library refuses; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SourceFile:
    """A source's file to download: an upload's bytes, or the file it was ingested from."""

    name: str
    data: bytes | None = None
    path: Path | None = None

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


class KnowledgeLibrary:
    def __init__(
        self,
        kb: KnowledgeBase,
        engine: Engine,
        data_dir: Path,
        options: IngestOptions,
        after_ingest: Callable[[], object] | None = None,
        *,
        lease: timedelta = LEASE,
        poll_s: float = POLL_S,
        signal: RedisJobSignal | None = None,
    ) -> None:
        """`engine`: the migrated SQL database (the conversation store's). `data_dir` is only
        read for an earlier kefu's jobs file and sources folder, taken over here."""
        self.kb = kb
        self.engine = engine
        self._writer = writer(engine)
        self.options = options
        self.after_ingest = after_ingest or (lambda: None)  # e.g. refit the answer classifier
        self.lease = lease
        self.poll_s = poll_s
        self.signal = signal
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Condition()
        self._woken = 0  # counts the wake-ups, so that one between a look and a wait is kept
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: set[str] = set()  # the jobs this worker runs, whose leases it renews
        self._started = threading.Lock()
        take_over(self, data_dir)

    # ---- the workers ----------------------------------------------------------------------

    def start(self) -> None:
        """Start this worker's lanes and the keeper of its leases (once; also on the first
        ingest). Every worker of a site starts them, so that any runs what is queued."""
        with self._started:
            if self._threads or self._stopping.is_set():
                return
            for lane in LANES:
                self._threads.append(
                    threading.Thread(
                        target=self._lane, args=(lane,), name=f"ingest-{lane}", daemon=True
                    )
                )
            self._threads.append(threading.Thread(target=self._keep, name="ingest-leases"))
            if self.signal is not None:
                self._threads.append(
                    threading.Thread(
                        target=self.signal.listen,
                        args=(self._notify, self._stopping),
                        name="ingest-signal",
                    )
                )
            for thread in self._threads:
                thread.daemon = True
            for thread in self._threads:
                thread.start()

    def close(self) -> None:
        """Stop looking for jobs and renewing leases. A job still running goes on in its
        thread until the process ends; once its lease runs out another worker takes it as
        interrupted."""
        self._stopping.set()
        self._notify()
        for thread in self._threads:
            if thread.name in ("ingest-leases", "ingest-signal"):
                thread.join(5)
        if self.signal is not None:
            self.signal.close()

    def _notify(self) -> None:
        with self._wake:
            self._woken += 1
            self._wake.notify_all()

    def _lane(self, lane: str) -> None:
        """One lane: claim the next job the lane may run, run it; when none, wait a poll."""
        while not self._stopping.is_set():
            job = None
            with self._wake:
                looked = self._woken
            try:
                job = self._claim(lane)
            except Exception:  # the database away a moment: the next poll tries again
                log.exception("ingest.claim_failed")
            if job is not None:
                self._run(job)
                continue
            with self._wake:
                if self._woken == looked and not self._stopping.is_set():
                    self._wake.wait(self.poll_s)

    def _claim(self, lane: str) -> IngestJob | None:
        with self.engine.connect() as conn:
            if not ingest_jobs.waiting_in(conn, lane):
                return None  # nothing queued: no write lock taken
        now = _now()
        with self._writer.begin() as conn:
            job = ingest_jobs.claim(conn, lane, self.worker, now + self.lease, now)
        if job is not None:
            self._running.add(job.id)
            log.info("ingest.job_claimed", extra={"job": job.id, "lane": lane})
        return job

    def _keep(self) -> None:
        """Renew the leases of this worker's jobs; take over the jobs whose worker stopped,
        and the replacements saved by a worker that stopped before their job was queued."""
        every = max(min(self.lease.total_seconds() / 3, self.poll_s), 0.05)
        while not self._stopping.wait(every):
            try:
                self._renew()
                self.recover()
            except Exception:
                log.exception("ingest.keeping_failed")

    def _renew(self) -> None:
        until = _now() + self.lease
        for job_id in list(self._running):
            with self.engine.begin() as conn:
                if not ingest_jobs.hold(conn, job_id, self.worker, until):
                    self._running.discard(job_id)  # its run finds out at its next write

    def recover(self) -> None:
        """Set straight what stopped workers left: their running jobs whose lease ran out
        read as failed (interrupted), and replacements with no job pending are settled."""
        now = _now()
        with self.engine.connect() as conn:
            abandoned = ingest_jobs.abandoned(conn, now)
        for job_id in abandoned:
            with self._writer.begin() as conn:
                job = ingest_jobs.take_abandoned(conn, job_id, now)
                if job is None:
                    continue
                self._interrupted(conn, job, now)
            log.warning("ingest.job_interrupted", extra={"job": job_id})
        self._settle_orphans(now)

    def _interrupted(self, conn: Connection, job: IngestJob, now: datetime) -> None:
        """A job whose worker stopped: it ends, and its files are set straight."""
        if job.cancelling:  # it was stopping anyway
            job.state, job.error = "cancelled", None
        else:
            job.state, job.error = "failed", INTERRUPTED
        job.current, job.cancelling, job.finished_at = None, False, now
        for name in job.sources:
            note = self._set_straight(conn, name)
            if note is not None:
                _report_on(job, name).problems.append(note)
        ingest_jobs.end(conn, job)

    def _settle_orphans(self, now: datetime) -> None:
        """A replacement saved by a worker that stopped before queueing its ingest: the
        version whose items serve stays. (Only one older than a lease: a save and its job are
        moments apart.)"""
        with self.engine.connect() as conn:
            pending = [
                f.name
                for f in source_files.every_file(conn)
                if f.replacing and f.uploaded_at < now - self.lease
            ]
        if not pending:
            return
        for name in pending:
            with self._writer.begin() as conn:
                read, every = ingest_jobs.read_by_active(conn)
                found = source_files.stored(conn, name)
                if every or name in read or found is None or not found.replacing:
                    continue
                self._set_straight(conn, name)

    # ---- files ----------------------------------------------------------------------------

    def save(self, name: str, stream: BinaryIO, *, replace: bool = False) -> StoredFile:
        """Keep an uploaded file under its name. Refuses unsupported, empty and too large
        files (nothing is kept then) and, without `replace`, a name that is taken. A
        replacement keeps the version it replaces until its ingest has served it."""
        name = _safe_name(name)
        if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
            supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
            raise LibraryError(
                "unsupported_file", f"{name}: kefu reads {supported}; this file is not one"
            )
        taken = LibraryError("source_exists", f"a source named {name} exists already")
        if not replace and (self.kb.catalog.source(name) is not None or self.is_managed(name)):
            raise taken
        data = bytearray()
        for block in iter(lambda: stream.read(CHUNK), b""):
            data += block
            if len(data) > self.options.max_bytes:
                limit = self.options.max_bytes // (1024 * 1024)
                raise LibraryError("file_too_large", f"{name} is larger than the {limit} MB limit")
        if not data:
            raise LibraryError("empty_file", f"{name} is empty")
        try:
            with self._writer.begin() as conn:
                if replace:
                    source_files.replace(conn, name, bytes(data))
                else:
                    source_files.add(conn, name, bytes(data))
                kept = source_files.stored(conn, name)
        except IntegrityError:  # another worker took the name meanwhile
            raise taken from None
        assert kept is not None
        return kept

    def file(self, name: str) -> SourceFile | None:
        """The file of a source to download: the uploaded one, else where it was ingested
        from (when that is on this worker's disk)."""
        with self.engine.connect() as conn:
            data = source_files.data_of(conn, name)
        if data is not None:
            return SourceFile(name, data=data)
        path = self._elsewhere(self.kb.catalog.source(name))
        return None if path is None else SourceFile(name, path=path)

    def downloadable(self, name: str) -> bool:
        return self.is_managed(name) or self._elsewhere(self.kb.catalog.source(name)) is not None

    def is_managed(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return source_files.stored(conn, name) is not None

    def managed(self) -> list[StoredFile]:
        with self.engine.connect() as conn:
            return source_files.every_file(conn)

    def delete(self, name: str) -> int:
        """Drop a source from the knowledge base (and its uploaded file); items removed."""
        if self.kb.catalog.source(name) is None and not self.is_managed(name):
            raise LibraryError("source_not_found", f"no source named {name}")
        removed = self.kb.drop_source(name)
        with self._writer.begin() as conn:
            source_files.remove(conn, name)
        return removed

    @staticmethod
    def _elsewhere(record: SourceRecord | None) -> Path | None:
        """The file a source was ingested from on disk (a folder given to `kefu ingest`)."""
        if record is None or not record.origin or record.origin == UPLOADED:
            return None
        path = Path(record.origin) / record.name
        return path if path.is_file() else None

    # ---- ingest jobs ----------------------------------------------------------------------

    def ingest(self, names: list[str] | None = None, label: str = "") -> IngestJob:
        """Queue an ingest of some uploaded sources (by name), or of every source whose file
        is uploaded or on disk."""
        kept = {f.name: f for f in self.managed()}
        if names is None:
            sources = sorted(kept)
            elsewhere = [
                self._elsewhere(r) for r in self.kb.catalog.sources() if r.name not in kept
            ]
            size = sum(f.size for f in kept.values()) + sum(_size(p) for p in elsewhere if p)
            label = label or "all sources"
        else:
            wanted = [_safe_name(n) for n in names]
            sources = [n for n in dict.fromkeys(wanted) if n in kept]
            size = sum(kept[n].size for n in sources)
            label = label or ", ".join(names)
        lane = "large" if size > LARGE_JOB_BYTES else "small"
        job = IngestJob(
            uuid.uuid4().hex[:12],
            label,
            lane=lane,
            bytes_total=size,
            sources=sources,
            every=names is None,
        )
        with self._writer.begin() as conn:
            ingest_jobs.add(conn, job, _now())
        self.start()
        self._notify()
        if self.signal is not None:
            self.signal.send()
        return job

    def cancel(self, job_id: str) -> IngestJob:
        """Cancel a job: a queued one ends at once, a running one after the batch it embeds
        (on whichever worker runs it). Either way, the files it has not finished keep what
        they served before."""
        with self._writer.begin() as conn:
            if ingest_jobs.cancel_queued(conn, job_id, _now()):
                job = ingest_jobs.get(conn, job_id)
                assert job is not None
                fallbacks = self._fallbacks(conn, job.sources)
                self._set_back(conn, job, set(), fallbacks)
                return job
            ingest_jobs.ask_cancel(conn, job_id)
            job = ingest_jobs.get(conn, job_id)
        if job is None:
            raise LibraryError("job_not_found", f"no ingest job {job_id}")
        if job.state in ENDED:
            raise LibraryError("job_ended", f"ingest job {job_id} is {job.state} already")
        return job

    def job(self, job_id: str) -> IngestJob | None:
        with self.engine.connect() as conn:
            return ingest_jobs.get(conn, job_id)

    def jobs(self) -> list[IngestJob]:
        """The jobs, newest first: those queued or running, and the latest ended."""
        with self.engine.connect() as conn:
            return ingest_jobs.listed(conn)

    def wait(self, job_id: str, timeout: float = 300) -> IngestJob:
        """Block until the job has ended (done, failed or cancelled), on any worker: for the
        command line and tests."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job is None:
                raise LibraryError("job_not_found", f"no ingest job {job_id}")
            if job.state in ENDED:
                return job
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"ingest job {job_id} still {job.state}")
            time.sleep(min(left, 0.05))

    def _fallbacks(self, conn: Connection, names: list[str]) -> set[str]:
        """Those of `names` whose replacement is pending (a previous version is kept)."""
        found = {f.name: f for f in source_files.every_file(conn)}
        return {n for n in names if n in found and found[n].replacing}

    def _set_back(
        self, conn: Connection, job: IngestJob, served: set[str], fallbacks: set[str]
    ) -> None:
        """The files of a job that ended without serving them: a replacement's previous
        version is put back, a new file that never served is removed."""
        for source in fallbacks:
            if source in served:
                source_files.settle(conn, source)
            elif source_files.put_back(conn, source):
                for f in job.files:
                    if f.source == source:
                        f.problems.append(PUT_BACK)
        for source in job.sources:
            if (
                source not in served
                and source not in fallbacks
                and self.kb.catalog.source(source) is None
            ):
                source_files.remove(conn, source)  # listed nowhere: never served

    def _set_straight(self, conn: Connection, name: str) -> str | None:
        """An uploaded file a job was reading when its worker stopped: the version whose
        items serve stays. What was done, for the job's report (None: nothing to do)."""
        found = source_files.stored(conn, name)
        record = self.kb.catalog.source(name)
        if found is not None and found.replacing:
            data = source_files.data_of(conn, name)
            new_serving = (
                record is not None
                and data is not None
                and record.fingerprint == self._fingerprint(name, data)
            )
            if new_serving:
                source_files.settle(conn, name)
                return None
            source_files.put_back(conn, name)
            return PUT_BACK
        if record is None and found is not None:
            source_files.remove(conn, name)  # a new file that never served
            return REMOVED
        return None

    def _fingerprint(self, name: str, data: bytes) -> str:
        with tempfile.TemporaryDirectory(prefix="kefu-file-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            return _fingerprint(path, self.kb, self.options)

    def _run(self, job: IngestJob) -> None:
        """Run a job this worker claimed, writing its progress to the table as it goes."""
        try:
            with tempfile.TemporaryDirectory(prefix="kefu-ingest-") as folder:
                self._read(job, Path(folder).resolve())
        except JobLost:
            log.warning("ingest.job_lost", extra={"job": job.id})
        except Exception:  # the database went away at the end: the lease runs out
            log.exception("ingest.job_unrecorded", extra={"job": job.id})
        finally:
            self._running.discard(job.id)
            self._notify()
            if self.signal is not None:
                self.signal.send()  # a job waiting for the files it read may start now

    def _read(self, job: IngestJob, folder: Path) -> None:
        with self.engine.connect() as conn:
            kept = [f.name for f in source_files.every_file(conn)]
            names = kept if job.every else [n for n in job.sources if n in kept]
            fallbacks = self._fallbacks(conn, names)
            source_files.write_out(conn, names, folder)
        paths: list[Path] = [folder] if job.every else [folder / n for n in names]
        if job.every:
            for record in self.kb.catalog.sources():
                found = None if record.name in kept else self._elsewhere(record)
                if found is not None:
                    paths.append(found)
        job.files_total = sum(1 for _ in _files(paths))
        served: set[str] = set()  # sources whose new file was read and is now serving
        failed_new: set[str] = set()  # new uploads that failed: they never served
        written = [time.monotonic()]

        def progress(force: bool) -> None:
            """Write the progress (or at least read the cancel); stop if cancelled."""
            if force or time.monotonic() - written[0] >= PROGRESS_S:
                with self.engine.begin() as conn:
                    owned, cancel = ingest_jobs.write_progress(
                        conn, job, self.worker, _now() + self.lease
                    )
                written[0] = time.monotonic()
                if not owned:
                    raise JobLost(job.id)
            else:
                with self.engine.connect() as conn:
                    cancel = ingest_jobs.cancel_asked(conn, job.id)
            if cancel:
                job.cancelling = True
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
            progress(force=True)  # and stop before the next file if cancelled

        def on_embedded(n: int) -> None:
            job.embedded += n
            progress(force=False)  # the knowledge base takes back what this file embedded

        try:
            progress(force=True)
            report = ingest_paths(
                self.kb,
                paths,
                self.options,
                on_file=on_file,
                on_embedded=on_embedded,
                origins={folder: UPLOADED},
            )
            for source, n in report.removed_sources.items():
                job.files.append(FileReport(source, "removed", removed=n))
            failed_new = {
                f.source
                for f in report.failed
                if f.source not in fallbacks and f.path.parent == folder
            }
            self.after_ingest()
            ended: tuple[str, str | None] = ("done", None)
        except JobLost:
            raise
        except IngestCancelled:
            log.info("ingest.job_cancelled", extra={"job": job.id})
            if served:
                self.after_ingest()  # the files finished before the cancel serve
            ended = ("cancelled", None)
        except Exception as exc:  # the job reports it; the server goes on serving
            log.exception("ingest job %s failed", job.id)
            ended = ("failed", f"{type(exc).__name__}: {exc}")
        # Whatever stopped a replacement (a bad file, a broken job, a cancel), the file put
        # back is the one whose items are serving, so it is the one to download. The job reads
        # as ended in the same transaction: a client polling it never sees "done" before the
        # report it will read is complete.
        with self._writer.begin() as conn:
            if not ingest_jobs.hold(conn, job.id, self.worker, _now() + self.lease):
                raise JobLost(job.id)
            for source in failed_new:
                source_files.remove(conn, source)
            self._set_back(conn, job, served, fallbacks)
            job.current = None
            job.finished_at = _now()
            job.state, job.error, job.cancelling = *ended, False
            ingest_jobs.end(conn, job)


class IngestCancelled(Exception):
    """Raised inside a running job that was cancelled, to stop it where it is."""


class JobLost(Exception):
    """Raised inside a running job another worker took as interrupted (its lease ran out)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
    """A file name of an upload: no folders, no hidden or partial files."""
    base = Path(name.replace("\\", "/")).name.strip()
    if not base or base.startswith(".") or base.startswith("~$") or len(base) > 200:
        raise LibraryError("invalid_name", f"{name!r} is not a usable file name")
    return base
