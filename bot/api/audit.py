"""Staff actions onto the audit log, from one place, and the log for admins to read.

`AuditTrail` is an ASGI middleware that looks at each request once it is answered: when its
route is one of STAFF_ACTIONS and it succeeded, the acting user (put on the request by the
`requires` dependency), the action, what it acted on (the route's path parameters) and the
client's address are recorded before the response leaves. A log-in is recorded whether it
succeeds or fails (`login` / `login_failed`, with the username tried). Refused requests
(401/403, bad input) change nothing and are not staff actions.

`GET /api/admin/audit` (admin) reads it newest first, filtered by actor, action and period;
`GET /api/admin/audit.csv` exports the same. There is no route that changes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.access.accounts import Accounts, Role, User
from bot.access.audit import MAX_ENTRIES, AuditEntry, AuditLog
from bot.api.auth import client_address, requires
from bot.api.errors import ERROR_RESPONSES
from bot.api.metrics import moment
from bot.reports.exports import csv_export

LOGIN = ("POST", "/api/auth/login")

# (method, route) → the action recorded when it succeeds.
STAFF_ACTIONS: dict[tuple[str, str], str] = {
    LOGIN: "login",
    ("POST", "/api/auth/logout"): "logout",
    ("POST", "/api/agent/conversations/{conversation_id}/claim"): "claim",
    ("POST", "/api/agent/conversations/{conversation_id}/messages"): "reply",
    ("POST", "/api/agent/conversations/{conversation_id}/notes"): "note",
    ("POST", "/api/agent/conversations/{conversation_id}/images"): "image_sent",
    ("POST", "/api/agent/conversations/{conversation_id}/resolve"): "resolve",
    ("POST", "/api/agent/conversations/{conversation_id}/return-to-bot"): "return_to_bot",
    ("POST", "/api/agent/drafts"): "draft_saved",
    ("POST", "/api/admin/sources"): "knowledge_upload",
    ("DELETE", "/api/admin/sources/{name}"): "knowledge_delete",
    ("GET", "/api/admin/sources/{name}/file"): "knowledge_download",
    ("POST", "/api/admin/ingest"): "knowledge_ingest",
    ("POST", "/api/admin/ingest/{job_id}/cancel"): "knowledge_ingest_cancelled",
    ("POST", "/api/admin/drafts"): "draft_added",
    ("PATCH", "/api/admin/drafts/{draft_id}"): "draft_edited",
    ("POST", "/api/admin/drafts/{draft_id}/approve"): "draft_approved",
    ("POST", "/api/admin/drafts/{draft_id}/reject"): "draft_rejected",
    ("POST", "/api/admin/gaps/{group_id}/draft"): "draft_from_gap",
    ("GET", "/api/admin/gaps.xlsx"): "export_unanswered",
    ("GET", "/api/admin/metrics.csv"): "export_metrics",
    ("GET", "/api/admin/metrics.xlsx"): "export_metrics",
    ("GET", "/api/admin/audit.csv"): "export_audit",
    ("GET", "/api/admin/customers/{customer_id}/export"): "customer_export",
    ("GET", "/api/admin/customers/{customer_id}/export.html"): "customer_export",
    ("DELETE", "/api/admin/customers/{customer_id}"): "customer_erased",
    ("PATCH", "/api/admin/customers/{customer_id}"): "customer_corrected",
    ("POST", "/api/agent/conversations/{conversation_id}/assign"): "assign",
    ("POST", "/api/agent/conversations/{conversation_id}/transfer"): "transfer",
    ("POST", "/api/agent/conversations/{conversation_id}/unassign"): "unassign",
    ("POST", "/api/agent/saved-replies"): "saved_reply_added",
    ("PATCH", "/api/agent/saved-replies/{reply_id}"): "saved_reply_edited",
    ("DELETE", "/api/agent/saved-replies/{reply_id}"): "saved_reply_deleted",
    ("POST", "/api/agent/offline-messages/{conversation_id}/{seq}/reply"): "offline_reply",
    ("PUT", "/api/agent/presence"): "presence",
    ("PUT", "/api/admin/hours"): "hours_changed",
    ("POST", "/api/agent/customers/merge"): "customers_merged",
    ("POST", "/api/agent/customers/split"): "customers_split",
    ("POST", "/api/agent/customers/{identity}/consent"): "consent_recorded",
    ("PUT", "/api/agent/customers/{identity}/fields/{name}"): "customer_field_set",
    ("POST", "/api/admin/custom-fields"): "custom_field_added",
    ("DELETE", "/api/admin/custom-fields/{name}"): "custom_field_removed",
    ("GET", "/api/admin/audience.csv"): "export_audience",
    ("GET", "/api/admin/audience.xlsx"): "export_audience",
    ("POST", "/api/admin/orders/import"): "orders_import",
    ("POST", "/api/admin/users"): "user_added",
    ("PATCH", "/api/admin/users/{username}"): "user_changed",
    ("DELETE", "/api/admin/users/{username}"): "user_deactivated",
    ("PUT", "/api/admin/widget"): "widget_branded",
    ("DELETE", "/api/admin/widget"): "widget_reset",
}
# Staff requests that change nothing kept: not staff actions.
NOT_ACTIONS: frozenset[tuple[str, str]] = frozenset(
    {("POST", "/api/agent/conversations/{conversation_id}/typing")}  # a passing signal
)
MAX_LOGIN_BODY = 8192  # bytes of a log-in body read for the username tried


class AuditTrail:
    """Records each staff action of STAFF_ACTIONS on the audit log (see the module's text)."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        login = (scope["method"], scope["path"]) == LOGIN

        async def reading() -> Message:
            message = await receive()
            if login and message["type"] == "http.request" and len(body) < MAX_LOGIN_BODY:
                body.extend(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, int(message["status"]), bytes(body))
            await send(message)

        await self.app(scope, reading if login else receive, sending)

    async def _record(self, scope: Scope, status: int, body: bytes) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None)
        action = STAFF_ACTIONS.get((scope["method"], path)) if path else None
        if action is None:
            return
        state = scope.get("state") or {}
        user: User | None = state.get("user")
        if action == "login":
            if status in (401, 429):
                action = "login_failed"
            elif status >= 400:
                return  # a body that was no log-in at all
            actor = _username(body) or "?"
        elif status >= 400 or user is None:
            return
        else:
            actor = user.username
        params = scope.get("path_params") or {}
        target = state.get("audit_target") or "/".join(str(v) for v in params.values()) or None
        detail: dict[str, Any] = {}
        if scope.get("query_string"):
            detail["query"] = scope["query_string"].decode("latin-1")[:500]
        await run_in_threadpool(
            self.audit.record,
            actor,
            action,
            role=user.role.value if user is not None else None,
            target=target,
            address=client_address(HTTPConnection(scope)),
            outcome=status,
            detail=detail,
        )


def _username(body: bytes) -> str | None:
    try:
        name = json.loads(body).get("username")
    except (ValueError, AttributeError):
        return None
    return name.strip().lower()[:64] if isinstance(name, str) else None


def entry_public(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "address": e.address,
        "outcome": e.outcome,
        "detail": e.detail,
    }


class AuditQuery:
    """The filters of the audit log: actor, action, `from` / `to` (days, `to` inclusive)."""

    def __init__(
        self,
        actor: Annotated[str | None, Query(max_length=64, description="Username")] = None,
        action: Annotated[str | None, Query(max_length=64, description="e.g. login")] = None,
        start: Annotated[str | None, Query(alias="from", description="ISO day or time")] = None,
        end: Annotated[str | None, Query(alias="to", description="ISO day (inclusive)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 200,
        before: Annotated[int | None, Query(ge=1, description="Entries older than this id")] = None,
    ) -> None:
        self.actor = actor
        self.action = action
        self.start: datetime | None = moment(start, end=False)
        self.end: datetime | None = moment(end, end=True)
        if self.start and self.end and self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        self.limit = limit
        self.before = before

    def read(self, audit: AuditLog) -> list[AuditEntry]:
        return audit.entries(
            actor=self.actor,
            action=self.action,
            start=self.start,
            end=self.end,
            limit=self.limit,
            before_id=self.before,
        )


def router(accounts: Accounts, audit: AuditLog) -> APIRouter:
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(
        prefix="/api/admin", tags=["admin"], responses=ERROR_RESPONSES, dependencies=[admin]
    )

    @api.get("/audit")
    def read(query: Annotated[AuditQuery, Depends()]) -> dict[str, Any]:
        """Staff actions, newest first: who, when, what, on what, from which address."""
        found = query.read(audit)
        return {"entries": [entry_public(e) for e in found], "count": len(found)}

    @api.get("/audit.csv", response_class=Response)
    def export(query: Annotated[AuditQuery, Depends()]) -> Response:
        """The same entries as a CSV file for a spreadsheet."""
        header = ["id", "at", "actor", "role", "action", "target", "address", "outcome"]
        rows = [
            [e.id, e.at.isoformat(), e.actor, e.role, e.action, e.target, e.address, e.outcome]
            for e in query.read(audit)
        ]
        return Response(
            csv_export(header, rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="audit.csv"'},
        )

    return api
