"""An earlier kefu's data dir taken over: it kept the ingest jobs in `ingest_jobs.json` and the
uploaded files under `sources/` (a pending replacement's previous version under
`sources/.previous/`). On the first start they move into the database: the files with their
upload time, the jobs as they were, those it left queued or running as failed (interrupted),
and their files set straight as that kefu did at a restart. The folder and the jobs file are
removed once the database holds them."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from knowledge import ingest_jobs, source_files
from knowledge.ingest_jobs import FileReport, IngestJob

if TYPE_CHECKING:
    from knowledge.library import KnowledgeLibrary

log = logging.getLogger(__name__)

SOURCES_DIR = "sources"
PREVIOUS_DIR = ".previous"
JOBS_FILE = "ingest_jobs.json"
# Any constant works: two workers starting on one data dir take turns (PostgreSQL).
_TAKEOVER_LOCK_KEY = 0x6B6974  # "kit"


def take_over(library: KnowledgeLibrary, data_dir: Path) -> None:
    folder = data_dir / SOURCES_DIR
    jobs_file = data_dir / JOBS_FILE
    if not folder.is_dir() and not jobs_file.exists():
        return
    now = datetime.now(UTC)
    with library._writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TAKEOVER_LOCK_KEY})
        files = _take_files(conn, folder)
        known = ingest_jobs.ids(conn)
        jobs = [j for j in _kept_jobs(jobs_file) if j.id not in known]
        at = now - timedelta(seconds=len(jobs))  # older than any job queued from now on
        for i, job in enumerate(jobs):
            if job.state in ingest_jobs.ACTIVE:
                library._interrupted(conn, job, now)
            ingest_jobs.add(conn, job, at + timedelta(microseconds=i))
        # a replacement saved just before that kefu stopped, with no job yet
        for stored in source_files.every_file(conn):
            if stored.replacing and stored.name in files:
                library._set_straight(conn, stored.name)
    if files or jobs:
        log.warning("ingest.data_dir_taken_over", extra={"files": len(files), "jobs": len(jobs)})
    shutil.rmtree(folder, ignore_errors=True)
    jobs_file.unlink(missing_ok=True)


def _take_files(conn: Any, folder: Path) -> set[str]:
    """The files of the sources folder (and the previous versions beside them) into the
    database; a name it holds already is left as it is there. The names taken."""
    taken: set[str] = set()
    if not folder.is_dir():
        return taken
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or name.startswith("~$") or not path.is_file():
            continue
        if source_files.stored(conn, name) is not None:
            continue
        try:
            data, at = path.read_bytes(), _modified(path)
        except FileNotFoundError:  # another worker took it meanwhile
            continue
        source_files.add(conn, name, data, at)
        taken.add(name)
        previous = folder / PREVIOUS_DIR / name
        if previous.is_file():
            source_files.keep_previous(conn, name, previous.read_bytes(), _modified(previous))
    return taken


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _kept_jobs(jobs_file: Path) -> list[IngestJob]:
    """The jobs the file holds, oldest first (none when it is unreadable)."""
    try:
        kept = json.loads(jobs_file.read_text(encoding="utf-8"))
        return [_job(j) for j in kept]
    except FileNotFoundError:
        return []
    except (ValueError, TypeError, AttributeError):
        log.exception("ingest.jobs_file_unreadable")
        return []


def _job(data: dict[str, Any]) -> IngestJob:
    values = dict(data)
    for key in ("started_at", "finished_at"):
        at = values.get(key)
        values[key] = datetime.fromisoformat(at) if isinstance(at, str) else None
    values["files"] = [FileReport(**f) for f in values.get("files") or []]
    return IngestJob(**values)
