"""The admin API: knowledge sources (upload, re-ingest with progress, delete, download),
knowledge drafts (review, edit, approve into the drafts sheet), the unanswered questions
grouped by meaning, the conversations behind each metric, exports and tags. Admins only."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from openpyxl import Workbook
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.api.auth import requires
from bot.api.errors import ERROR_RESPONSES, ApiError
from bot.api.fields import ID_PATTERN, PlainText
from bot.api.metrics import moment
from bot.conversation.events import CustomerMessaged
from bot.conversation.store import ConversationNotFound, ConversationStore
from bot.customers.directory import CustomerDirectory
from bot.orders.attribution import converted_behind
from bot.orders.store import OrderStore
from bot.privacy.redaction import mask_personal
from bot.reports.dashboard import (
    Filter,
    conversion,
    dashboard_numbers,
    period_log,
    service_metrics,
)
from bot.reports.exports import csv_export, spreadsheet_row
from bot.reports.tags import TagSettings, tags_by_conversation
from bot.reports.unanswered import GapGroup, gaps_workbook, group_questions, unanswered_questions
from handoff.hours import BusinessHours, HoursSettings
from knowledge.drafts import (
    DRAFTS_FILE,
    Draft,
    DraftNotServed,
    DraftRejected,
    DraftStatus,
    KnowledgeDrafts,
    write_drafts_sheet,
)
from knowledge.embedding import Embedder
from knowledge.library import IngestJob, KnowledgeLibrary, LibraryError

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
# A source's file is sent with the type of its format (a fixed table, not the host's mime.types,
# so that the spec can name every type the download may have).
SOURCE_TYPES = {
    ".pdf": "application/pdf",
    ".xlsx": XLSX,
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".csv": CSV,
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
}
OTHER_FILE = "application/octet-stream"


def download_responses(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a route that answers with a file, for the OpenAPI spec."""
    content = {t: {"schema": {"type": "string", "format": "binary"}} for t in media_types}
    return {200: {"description": "The file, as an attachment", "content": content}}


DraftId = Annotated[str, Path(description="The draft's id", max_length=64, pattern=ID_PATTERN)]


class DraftEdit(BaseModel):
    question: PlainText | None = Field(default=None, max_length=4000)
    answer: PlainText | None = Field(default=None, max_length=4000)


class DraftCreate(BaseModel):
    question: PlainText = Field(max_length=4000)
    answer: PlainText = Field(default="", max_length=4000)


class GapDraft(BaseModel):
    answer: PlainText = Field(default="", max_length=4000)


def attachment(filename: str) -> dict[str, str]:
    """The Content-Disposition of a download, its name as RFC 6266 writes a non-ASCII one."""
    quoted = quote(filename)
    if quoted == filename:
        return {"content-disposition": f'attachment; filename="{filename}"'}
    return {"content-disposition": f"attachment; filename*=utf-8''{quoted}"}


def job_public(job: IngestJob) -> dict[str, Any]:
    return asdict(job)


def draft_public(d: Draft) -> dict[str, Any]:
    return {**asdict(d), "status": d.status.value}


def group_public(g: GapGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "label": g.label,
        "count": g.count,
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "reasons": g.reasons,
        "trend": [{"week": week, "count": n} for week, n in g.trend],
        "examples": [asdict(a) for a in g.examples],
    }


class Period:
    """The `from` / `to` query of the admin pages (whole days; `to` inclusive)."""

    def __init__(
        self,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        tag: Annotated[str | None, Query(max_length=200)] = None,
        channel: Annotated[str | None, Query(max_length=40)] = None,
    ) -> None:
        self.asked = (start, end)
        self.tag = tag
        self.channel = channel or None
        self.in_zone(UTC)

    def in_zone(self, zone: tzinfo) -> Period:
        """Whole days (and naive times) read in the shop's time zone."""
        start, end = self.asked
        self.start = moment(start, end=False, zone=zone)
        self.end = moment(end, end=True, zone=zone)
        if self.start and self.end and self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        return self

    def chosen(self) -> Filter:
        return Filter(self.start, self.end, self.tag, self.channel)


def router(
    accounts: Accounts,
    library: KnowledgeLibrary,
    drafts: KnowledgeDrafts,
    store: ConversationStore,
    embedder: Embedder | None,
    tag_settings: TagSettings,
    assumed_window: timedelta,
    opening_hours: Callable[[], HoursSettings] | None = None,
    orders: OrderStore | None = None,
    attribution_window: timedelta = timedelta(days=7),
    directory: CustomerDirectory | None = None,
) -> APIRouter:
    admin = Depends(requires(accounts, Role.ADMIN))

    def local_period(period: Annotated[Period, Depends()]) -> Period:
        """The period's days in the shop's time zone (the opening hours')."""
        return period.in_zone(ZoneInfo(opening_hours().time_zone) if opening_hours else UTC)

    in_days = Depends(local_period)
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {"model": ApiError, "description": "No e5 model to group questions"}
    }
    api = APIRouter(
        prefix="/api/admin",
        tags=["admin"],
        responses={**ERROR_RESPONSES, **unavailable},
        dependencies=[admin],
    )

    # ---- sources -------------------------------------------------------------------------

    @api.get("/sources")
    def sources() -> dict[str, Any]:
        """The knowledge base's sources with item counts, last ingest and status."""
        found = []
        uploaded = {f.name for f in library.managed()}
        for record in library.kb.catalog.sources():
            managed = record.name in uploaded
            found.append(
                {
                    **record.__dict__,
                    "managed": managed,
                    "downloadable": managed or library.downloadable(record.name),
                }
            )
        return {"sources": found}

    @api.post("/sources", status_code=202)
    def upload(
        file: Annotated[UploadFile, File()], request: Request, replace: bool = False
    ) -> dict[str, Any]:
        """Upload a knowledge file; it is ingested in the background (poll the job)."""
        saved = library.save(file.filename or "", file.file, replace=replace)
        request.state.audit_target = saved.name
        return {"job": job_public(library.ingest([saved.name], f"upload {saved.name}"))}

    @api.delete("/sources/{name}")
    def delete(name: str) -> dict[str, Any]:
        """Remove a source and its items; the bot stops answering from it at once."""
        return {"name": name, "removed_items": library.delete(name)}

    @api.get(
        "/sources/{name}/file",
        response_class=FileResponse,
        responses=download_responses(*dict.fromkeys([*SOURCE_TYPES.values(), OTHER_FILE])),
    )
    def download(name: str) -> Response:
        """The current file of a source."""
        found = library.file(name)
        if found is None:
            raise LibraryError("source_not_found", f"no file for source {name}")
        media_type = SOURCE_TYPES.get(FilePath(found.name).suffix.lower(), OTHER_FILE)
        if found.path is not None:
            return FileResponse(found.path, filename=found.name, media_type=media_type)
        return Response(found.read_bytes(), media_type=media_type, headers=attachment(found.name))

    @api.post("/ingest", status_code=202)
    def ingest_all() -> dict[str, Any]:
        """Re-ingest every source whose file is on disk; only what changed is re-embedded."""
        return {"job": job_public(library.ingest())}

    @api.get("/ingest")
    def jobs() -> dict[str, Any]:
        return {"jobs": [job_public(j) for j in library.jobs()]}

    @api.get("/ingest/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        """An ingest job as it is now: poll it for live progress."""
        found = library.job(job_id)
        if found is None:
            raise LibraryError("job_not_found", f"no ingest job {job_id}")
        return job_public(found)

    @api.post("/ingest/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict[str, Any]:
        """Cancel an ingest job: a queued one never starts, a running one stops after the
        batch it embeds. The file it was reading keeps serving what it served before (a new
        file that never served is removed); files it had finished stay as reported."""
        return {"job": job_public(library.cancel(job_id))}

    # ---- drafts --------------------------------------------------------------------------

    @api.get("/drafts")
    def list_drafts(status: DraftStatus | None = None) -> dict[str, Any]:
        return {"drafts": [draft_public(d) for d in drafts.list(status)]}

    @api.post("/drafts", status_code=201)
    def add_draft(body: DraftCreate, user: User = admin) -> dict[str, Any]:
        return draft_public(
            drafts.add(body.question, body.answer, user.username, allow_empty_answer=True)
        )

    @api.patch("/drafts/{draft_id}")
    def edit_draft(draft_id: DraftId, body: DraftEdit) -> dict[str, Any]:
        return draft_public(drafts.edit(draft_id, body.question, body.answer))

    @api.post("/drafts/{draft_id}/approve")
    def approve(draft_id: DraftId) -> dict[str, Any]:
        """Approve a draft: it joins the drafts sheet, which is ingested before the answer.
        The draft is approved once it is served; when it cannot be (422 draft_not_served) it
        stays pending with the reason in `problem`, and the served drafts stay as they were."""
        published: list[IngestJob] = []
        draft = drafts.approve(draft_id, lambda approved: published.append(publish(approved)))
        return {"draft": draft_public(draft), "job": job_public(published[-1])}

    def publish(approved: list[Draft]) -> IngestJob:
        """The drafts sheet with `approved`, uploaded as a replacement and ingested: should it
        not serve, the job puts back the sheet that does."""
        try:
            with tempfile.TemporaryDirectory(prefix="kefu-drafts-") as folder:
                sheet = FilePath(folder) / DRAFTS_FILE
                write_drafts_sheet(sheet, approved)
                with sheet.open("rb") as stream:
                    library.save(DRAFTS_FILE, stream, replace=True)
            job = library.wait(
                library.ingest([DRAFTS_FILE], f"approved draft {approved[-1].id}").id
            )
        except Exception as exc:
            raise DraftNotServed(f"{type(exc).__name__}: {exc}") from exc
        failed = [f for f in job.files if f.source == DRAFTS_FILE and f.outcome == "failed"]
        if job.state != "done" or failed:
            raise DraftNotServed(
                job.error or (failed[0].error if failed else None) or "ingest failed"
            )
        return job

    @api.post("/drafts/{draft_id}/reject")
    def reject(draft_id: DraftId) -> dict[str, Any]:
        return draft_public(drafts.reject(draft_id))

    # ---- unanswered questions ------------------------------------------------------------

    def groups(period: Period) -> list[GapGroup]:
        if embedder is None:
            raise LibraryError("no_embedder", "grouping questions needs the e5 model")
        asked = unanswered_questions(store.log(period.start, period.end))
        return group_questions(asked, embedder)

    @api.get("/gaps")
    async def gaps(period: Period = in_days) -> dict[str, Any]:
        """Refused and handed-off questions grouped by meaning, the latest group first."""
        found = await run_in_threadpool(groups, period)
        return {"groups": [group_public(g) for g in found]}

    @api.post("/gaps/{group_id}/draft", status_code=201)
    def gap_draft(
        group_id: str, body: GapDraft, period: Period = in_days, user: User = admin
    ) -> dict[str, Any]:
        """A knowledge draft whose question is the group's most typical question."""
        group = next((g for g in groups(period) if g.id == group_id), None)
        if group is None:
            raise DraftRejected("gap_not_found", f"no group {group_id} in this period")
        return draft_public(
            drafts.add(group.label, body.answer, user.username, allow_empty_answer=True)
        )

    @api.get("/gaps.xlsx", response_class=Response, responses=download_responses(XLSX))
    async def gaps_export(period: Period = in_days) -> Response:
        found = await run_in_threadpool(groups, period)
        return Response(
            gaps_workbook(found),
            media_type=XLSX,
            headers={"content-disposition": 'attachment; filename="unanswered.xlsx"'},
        )

    # ---- metrics: the conversations behind them, exports, tags ---------------------------

    def hours() -> BusinessHours | None:
        return BusinessHours(opening_hours()) if opening_hours else None

    def metrics_of(period: Period) -> dict[str, Any]:
        """The dashboard's numbers, as GET /api/metrics answers them (conversion included)."""
        if orders is None:
            log = period_log(store, period.chosen(), tag_settings)
            found = service_metrics(log, period.chosen(), assumed_window, hours()).as_dict()
            return found
        return dashboard_numbers(
            store,
            orders,
            period.chosen(),
            tags=tag_settings,
            assumed_window=assumed_window,
            attribution_window=attribution_window,
            hours=hours(),
            directory=directory,
        )

    @api.get("/conversations")
    def conversations(
        period: Period = in_days,
        metric: Annotated[str, Query(max_length=300)] = "engaged",
    ) -> dict[str, Any]:
        """The conversations behind a number of the dashboard (metric: engaged, deflected,
        handed_off, queued, missed, resolution_confirmed, resolution_assumed, refused, surveyed,
        trigger:<name>, topic:<name>; converted, converted:channel:<name>,
        converted:resolution:<bot|person>, converted:topic:<name>: the conversations followed by
        an order, each with its orders)."""
        log = period_log(store, period.chosen(), tag_settings)
        bought: dict[str, list[dict[str, Any]]] = {}
        if metric.startswith("converted") and orders is not None:
            attributed = conversion(log, orders, period.chosen(), attribution_window).attributed
            ids = set(converted_behind(attributed, metric))
            for row in attributed:
                if row["conversation_id"] in ids:
                    bought.setdefault(row["conversation_id"], []).append(row)
        else:
            found = service_metrics(log, period.chosen(), assumed_window, hours())
            ids = set(found.behind.get(metric, ()))
        tagged = tags_by_conversation(log, tag_settings)
        first: dict[str, str] = {}
        started: dict[str, datetime] = {}
        for _, event in log:
            cid = event.conversation_id
            if cid in ids:
                started.setdefault(cid, event.at)
                if isinstance(event, CustomerMessaged):
                    first.setdefault(cid, mask_personal(event.text))
        rows = []
        for cid in sorted(ids, key=lambda c: started.get(c, datetime.min.replace(tzinfo=UTC))):
            try:
                conversation = store.get(cid)
            except ConversationNotFound:
                continue  # anonymised: counted, but nobody's to show
            row = {
                "id": cid,
                "started_at": conversation.created_at,
                "status": conversation.status.value,
                "channel": conversation.channel,
                "customer_id": conversation.customer_id,
                "first_message": first.get(cid),
                "tags": tagged.get(cid, []),
            }
            if cid in bought:
                row["orders"] = bought[cid]
            rows.append(row)
        return {"metric": metric, "conversations": rows}

    @api.get("/metrics.csv", response_class=Response, responses=download_responses(CSV))
    def metrics_csv(period: Period = in_days) -> Response:
        return Response(
            csv_export(["metric", "value"], _flat(metrics_of(period))),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="kefu-metrics.csv"'},
        )

    @api.get("/metrics.xlsx", response_class=Response, responses=download_responses(XLSX))
    def metrics_xlsx(period: Period = in_days) -> Response:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "metrics"
        sheet.append(["metric", "value"])
        for row in _flat(metrics_of(period)):
            sheet.append(spreadsheet_row(row))
        out = io.BytesIO()
        book.save(out)
        return Response(
            out.getvalue(),
            media_type=XLSX,
            headers={"content-disposition": 'attachment; filename="kefu-metrics.xlsx"'},
        )

    @api.get("/tags")
    def tags(period: Period = in_days) -> dict[str, Any]:
        """Tags and how many conversations of the period carry each."""
        log = list(store.log(period.start, period.end))
        counts: dict[str, int] = {}
        for found in tags_by_conversation(log, tag_settings).values():
            for tag in found:
                counts[tag] = counts.get(tag, 0) + 1
        ranked = sorted(counts.items(), key=lambda t: (-t[1], t[0]))
        return {"tags": [{"tag": t, "conversations": n} for t, n in ranked]}

    return api


def _behind_a_number(prefix: str, key: str) -> bool:
    """A list of the rows behind a number (conversion.orders), not a number."""
    return f"{prefix}{key}" == "conversion.orders"


def _flat(data: dict[str, Any], prefix: str = "") -> list[list[Any]]:
    """Nested metrics as (dotted key, value) rows; definitions, id lists and the orders behind
    the conversion (the drill-down lists them) left out."""
    rows: list[list[Any]] = []
    for key, value in data.items():
        if key in ("definitions", "behind", "null_means") or _behind_a_number(prefix, key):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flat(value, f"{name}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    rows += _flat(item, f"{name}.{i}.")
                else:
                    rows.append([f"{name}.{i}", item])
        else:
            rows.append([name, value])
    return rows
