"""Ingest jobs as rows of the SQL database every worker shares: what a job reads, its state and
progress as the worker running it writes them, and that worker's lease on it.

A queued job is claimed by one worker (`claim`: the claims of all workers take turns on a
lock, so two never start jobs that read the same file); the worker renews its lease while it
runs the job and writes its progress conditionally on still holding it, so a job another
worker found abandoned (lease expired) is never written over by a worker that comes back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Row

from knowledge.database import UtcDateTime, metadata

ENDED = ("done", "failed", "cancelled")
ACTIVE = ("queued", "running")
KEPT_JOBS = 20  # ended jobs kept to be listed; queued and running ones are always kept
# Any constant works; claims of every worker on one database take turns on it (PostgreSQL).
_CLAIM_LOCK_KEY = 0x6B696A  # "kij"


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
    every: bool = False  # it reads every source (and so runs alone)


# In the conversation store's schema (migration 0014).
ingest_jobs = Table(
    "ingest_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("label", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("lane", String(8), nullable=False),
    Column("every", Boolean, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("bytes_total", BigInteger, nullable=False),
    Column("cancelling", Boolean, nullable=False),
    Column("queued_at", UtcDateTime, nullable=False, index=True),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("files_total", Integer, nullable=False),
    Column("files_done", Integer, nullable=False),
    Column("current", Text),
    Column("embedded", Integer, nullable=False),
    Column("error", Text),
    Column("files", JSON, nullable=False),
    # the worker running it, and until when its lease holds unless renewed
    Column("worker", String(64)),
    Column("lease_until", UtcDateTime),
)
_c = ingest_jobs.c
# what the worker running a job writes as it goes
_PROGRESS = (
    "state",
    "started_at",
    "finished_at",
    "files_total",
    "files_done",
    "current",
    "embedded",
    "error",
    "files",
    "cancelling",
)


def _values(job: IngestJob, names: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in names}
    if "files" in values:
        values["files"] = [asdict(f) for f in job.files]
    return values


def add(conn: Connection, job: IngestJob, queued_at: datetime) -> None:
    """Queue `job`, and forget the oldest ended jobs past KEPT_JOBS."""
    columns = tuple(c.name for c in ingest_jobs.columns if hasattr(job, c.name))
    conn.execute(insert(ingest_jobs).values(**_values(job, columns), queued_at=queued_at))
    old = conn.execute(
        select(_c.id)
        .where(_c.state.in_(ENDED))
        .order_by(_c.queued_at.desc(), _c.id.desc())
        .offset(KEPT_JOBS)
    ).scalars()
    gone = list(old)
    if gone:
        conn.execute(delete(ingest_jobs).where(_c.id.in_(gone)))


def get(conn: Connection, job_id: str) -> IngestJob | None:
    row = conn.execute(select(ingest_jobs).where(_c.id == job_id)).first()
    return None if row is None else _job(row)


def listed(conn: Connection) -> list[IngestJob]:
    """The jobs to show, newest first: every queued or running one, and the latest ended."""
    rows = conn.execute(select(ingest_jobs).order_by(_c.queued_at.desc(), _c.id.desc()))
    jobs = [_job(r) for r in rows]
    ended = {j.id for j in [j for j in jobs if j.state in ENDED][:KEPT_JOBS]}
    return [j for j in jobs if j.state in ACTIVE or j.id in ended]


def waiting_in(conn: Connection, lane: str) -> bool:
    """Whether a job is queued in `lane` (a read, before taking the write lock to claim)."""
    found = conn.execute(
        select(_c.id).where(_c.state == "queued", _c.lane == lane).limit(1)
    ).first()
    return found is not None


def claim(
    conn: Connection, lane: str, worker: str, until: datetime, now: datetime
) -> IngestJob | None:
    """The first job queued in `lane` that no running job keeps waiting (one reading one of
    its files, or one reading every source), now running on `worker`. Run in a write
    transaction: on PostgreSQL the claims take turns on an advisory lock, on SQLite on the
    write lock, so what is running cannot change while it is read."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})
    running = [
        (bool(r[0]), set(r[1] or []))
        for r in conn.execute(select(_c.every, _c.sources).where(_c.state == "running"))
    ]
    waiting = conn.execute(
        select(_c.id, _c.every, _c.sources)
        .where(_c.state == "queued", _c.lane == lane)
        .order_by(_c.queued_at, _c.id)
    ).all()
    for job_id, every, sources in waiting:
        if any(
            every or other_every or set(sources or []) & other for other_every, other in running
        ):
            continue
        taken = conn.execute(
            update(ingest_jobs)
            .where(_c.id == job_id, _c.state == "queued")
            .values(state="running", started_at=now, worker=worker, lease_until=until)
        )
        if taken.rowcount:
            return get(conn, job_id)
    return None


def write_progress(
    conn: Connection, job: IngestJob, worker: str, until: datetime
) -> tuple[bool, bool]:
    """Write what the running `job` did so far (and renew the lease): (whether `worker` still
    holds it, whether a cancel was asked)."""
    values = _values(job, tuple(n for n in _PROGRESS if n not in ("state", "cancelling")))
    written = conn.execute(
        update(ingest_jobs)
        .where(_c.id == job.id, _c.worker == worker, _c.state == "running")
        .values(**values, lease_until=until)
    )
    if not written.rowcount:
        return False, False
    return True, cancel_asked(conn, job.id)


def cancel_asked(conn: Connection, job_id: str) -> bool:
    return bool(conn.execute(select(_c.cancelling).where(_c.id == job_id)).scalar())


def hold(conn: Connection, job_id: str, worker: str, until: datetime) -> bool:
    """Renew `worker`'s lease on its running job; False when it holds it no more."""
    held = conn.execute(
        update(ingest_jobs)
        .where(_c.id == job_id, _c.worker == worker, _c.state == "running")
        .values(lease_until=until)
    )
    return bool(held.rowcount)


def end(conn: Connection, job: IngestJob) -> None:
    """Write the job as ended (its state and report), releasing the lease."""
    conn.execute(
        update(ingest_jobs)
        .where(_c.id == job.id)
        .values(**_values(job, _PROGRESS), worker=None, lease_until=None)
    )


def cancel_queued(conn: Connection, job_id: str, now: datetime) -> bool:
    done = conn.execute(
        update(ingest_jobs)
        .where(_c.id == job_id, _c.state == "queued")
        .values(state="cancelled", finished_at=now)
    )
    return bool(done.rowcount)


def ask_cancel(conn: Connection, job_id: str) -> bool:
    done = conn.execute(
        update(ingest_jobs).where(_c.id == job_id, _c.state == "running").values(cancelling=True)
    )
    return bool(done.rowcount)


def abandoned(conn: Connection, now: datetime) -> list[str]:
    """Running jobs whose lease expired: their worker stopped renewing it."""
    return list(
        conn.execute(select(_c.id).where(_c.state == "running", _c.lease_until < now)).scalars()
    )


def take_abandoned(conn: Connection, job_id: str, now: datetime) -> IngestJob | None:
    """The abandoned job, locked for the one worker that sets it straight (None: it was not
    abandoned after all, or another worker took it)."""
    query = select(ingest_jobs).where(_c.id == job_id, _c.state == "running", _c.lease_until < now)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    return None if row is None else _job(row)


def read_by_active(conn: Connection) -> tuple[set[str], bool]:
    """The files queued or running jobs read, and whether one of them reads every source."""
    names: set[str] = set()
    every = False
    for job_every, sources in conn.execute(
        select(_c.every, _c.sources).where(_c.state.in_(ACTIVE))
    ):
        every = every or bool(job_every)
        names.update(sources or [])
    return names, every


def ids(conn: Connection) -> set[str]:
    return set(conn.execute(select(_c.id)).scalars())


def _job(row: Row[Any]) -> IngestJob:
    m = row._mapping
    return IngestJob(
        id=m["id"],
        label=m["label"],
        state=m["state"],
        lane=m["lane"],
        bytes_total=m["bytes_total"],
        cancelling=bool(m["cancelling"]),
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        files_total=m["files_total"],
        files_done=m["files_done"],
        current=m["current"],
        embedded=m["embedded"],
        error=m["error"],
        files=[FileReport(**f) for f in m["files"] or []],
        sources=list(m["sources"] or []),
        every=bool(m["every"]),
    )
