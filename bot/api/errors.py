"""API errors: a JSON body with a stable `code`, a `message`, and the customer's texts."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from bot.access.accounts import AccessDenied, AccountError
from bot.access.customer import SignatureInvalid
from bot.access.ratelimit import RateLimited
from bot.answering.texts import TEXTS, both
from bot.api.fields import TEXT_CODES
from bot.attachments.images import ImageRefused
from bot.attachments.store import AttachmentNotFound
from bot.conversation.service import MessageRejected, SurveyRefused
from bot.conversation.status import InvalidTransition
from bot.conversation.store import ConversationNotFound, StatusConflict
from bot.desk.actions import AlreadyClaimed, AssignRefused, NotAssignee, NotWaiting
from bot.desk.history import SearchRejected
from bot.desk.inbox import NoSuchOfflineMessage
from bot.desk.saved_replies import SavedReplyRejected
from bot.privacy.customers import CustomerNotFound
from ingest.plain_text import UnsafeText
from knowledge.drafts import DraftRejected
from knowledge.library import LibraryError

LIBRARY_STATUS = {
    "source_exists": 409,
    "file_too_large": 413,
    "source_not_found": 404,
    "job_not_found": 404,
    "job_ended": 409,
    "no_embedder": 503,
}
DRAFT_STATUS = {
    "draft_not_found": 404,
    "gap_not_found": 404,
    "draft_not_pending": 409,
    "draft_not_served": 422,
}
DESK_STATUS = {
    "saved_reply_not_found": 404,
    "shortcut_taken": 409,
    "agent_not_found": 404,
    "already_theirs": 409,
}
IMAGE_STATUS = {
    "image_too_large": 413,
    "image_unsupported_type": 415,
    "image_quota_reached": 409,  # the conversation keeps as many pictures as it may
}
ACCOUNT_STATUS = {
    "no_such_user": 404,
    "user_exists": 409,
    "last_admin": 409,
}
# What the framework itself answers (no route, wrong method, a body it cannot read).
HTTP_CODES = {
    400: "invalid_json",  # the only 400 FastAPI raises: a body it could not decode
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class ApiError(BaseModel):
    code: str
    message: str
    messages: dict[str, str] | None = None  # the same in zh and en, for a customer to read
    details: Any = None


def error(
    status: int, code: str, message: str, key: str | None = None, details: Any = None, **values: Any
) -> JSONResponse:
    if key is None and f"error_{code}" in TEXTS:
        key = f"error_{code}"  # the stable code has texts of its own
    body = ApiError(
        code=code,
        message=message,
        messages=both(key, **values) if key else None,
        details=details,
    )
    return JSONResponse(status_code=status, content=body.model_dump(exclude_none=True))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Bad input (code says which)"},
    401: {"model": ApiError, "description": "Not logged in, or the session expired"},
    403: {"model": ApiError, "description": "Not allowed for this user"},
    404: {"model": ApiError, "description": "Unknown conversation"},
    409: {"model": ApiError, "description": "Not allowed in the conversation's status"},
    413: {"model": ApiError, "description": "Message too long (code message_too_long)"},
    422: {"model": ApiError, "description": "Invalid request body"},
    429: {"model": ApiError, "description": "Too many requests (code rate_limited)"},
}


def install(app: FastAPI) -> None:
    @app.exception_handler(MessageRejected)
    async def rejected(_: Request, exc: MessageRejected) -> JSONResponse:
        status = 413 if exc.code == "message_too_long" else 400
        return error(status, exc.code, str(exc), exc.key, **exc.values)

    @app.exception_handler(ImageRefused)
    async def image_refused(_: Request, exc: ImageRefused) -> JSONResponse:
        status = IMAGE_STATUS.get(exc.code, 400)
        return error(status, exc.code, str(exc), exc.key, **exc.values)

    @app.exception_handler(AttachmentNotFound)
    async def no_attachment(_: Request, exc: AttachmentNotFound) -> JSONResponse:
        return error(404, "attachment_not_found", str(exc))

    @app.exception_handler(ConversationNotFound)
    async def not_found(_: Request, exc: ConversationNotFound) -> JSONResponse:
        return error(404, "conversation_not_found", str(exc), "error_conversation_not_found")

    @app.exception_handler(CustomerNotFound)
    async def no_customer(_: Request, exc: CustomerNotFound) -> JSONResponse:
        return error(404, "customer_not_found", str(exc))

    @app.exception_handler(InvalidTransition)
    async def invalid_transition(_: Request, exc: InvalidTransition) -> JSONResponse:
        details = {"status": exc.current, "wanted": exc.target}
        return error(409, "invalid_transition", str(exc), details=details)

    @app.exception_handler(StatusConflict)
    async def conflict(_: Request, exc: StatusConflict) -> JSONResponse:
        details = {"status": exc.actual, "expected": exc.expected}
        return error(409, "status_conflict", str(exc), details=details)

    @app.exception_handler(SurveyRefused)
    async def survey_refused(_: Request, exc: SurveyRefused) -> JSONResponse:
        return error(409, exc.code, str(exc), exc.key)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = error(
            429, "rate_limited", str(exc), "error_rate_limited", seconds=exc.retry_after_s
        )
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(SignatureInvalid)
    async def signature_invalid(_: Request, exc: SignatureInvalid) -> JSONResponse:
        return error(403, exc.code, str(exc))

    @app.exception_handler(AccessDenied)
    async def access_denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return error(exc.status, exc.code, exc.code.replace("_", " "), exc.key)

    @app.exception_handler(AlreadyClaimed)
    async def already_claimed(_: Request, exc: AlreadyClaimed) -> JSONResponse:
        details = {"agent": exc.agent, "agent_name": exc.agent_name}
        return error(
            409, "status_conflict", str(exc), "error_already_claimed", details, name=exc.agent_name
        )

    @app.exception_handler(NotWaiting)
    async def not_waiting(_: Request, exc: NotWaiting) -> JSONResponse:
        return error(
            409,
            "invalid_transition",
            str(exc),
            "error_not_waiting",
            {"status": exc.status},
            current=exc.status.value,
        )

    @app.exception_handler(NotAssignee)
    async def not_assignee(_: Request, exc: NotAssignee) -> JSONResponse:
        return error(403, "not_assignee", str(exc), "error_not_assignee")

    @app.exception_handler(NoSuchOfflineMessage)
    async def no_offline_message(_: Request, exc: NoSuchOfflineMessage) -> JSONResponse:
        return error(404, "offline_message_not_found", str(exc))

    @app.exception_handler(SavedReplyRejected)
    @app.exception_handler(AssignRefused)
    @app.exception_handler(SearchRejected)
    async def desk_refused(
        _: Request, exc: SavedReplyRejected | AssignRefused | SearchRejected
    ) -> JSONResponse:
        return error(DESK_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(AccountError)
    async def account_refused(_: Request, exc: AccountError) -> JSONResponse:
        return error(ACCOUNT_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(DraftRejected)
    async def draft_rejected(_: Request, exc: DraftRejected) -> JSONResponse:
        return error(DRAFT_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(LibraryError)
    async def library_refused(_: Request, exc: LibraryError) -> JSONResponse:
        return error(LIBRARY_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(UnsafeText)
    async def unsafe_text(_: Request, exc: UnsafeText) -> JSONResponse:
        return error(400, exc.code, str(exc))

    @app.exception_handler(HTTPException)
    async def framework(_: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        key = "error_bad_request" if exc.status_code == 400 else None
        response = error(exc.status_code, code, str(exc.detail), key)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error(
                400, "invalid_json", "The request body is not valid JSON.", "error_bad_request"
            )
        text = next((p for p in problems if p.get("type") in TEXT_CODES), None)
        if text is not None:
            where = ".".join(str(x) for x in text.get("loc", ()))
            return error(400, text["type"], f"{where}: {text.get('msg')}")
        details = [
            {"where": ".".join(str(x) for x in p.get("loc", ())), "problem": p.get("msg")}
            for p in problems
        ]
        return error(
            422,
            "invalid_request",
            "The request does not match the API.",
            "error_bad_request",
            details=details,
        )

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return error(400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception) -> JSONResponse:
        # the server logs the traceback (Starlette raises it on); the client gets the shape
        return error(500, "internal_error", "Something went wrong on the server.", "error_internal")
