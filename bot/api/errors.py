"""API errors: a JSON body with a stable `code`, a `message`, and the customer's texts."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bot.answering.texts import both
from bot.conversation.service import MessageRejected
from bot.conversation.status import InvalidTransition
from bot.conversation.store import ConversationNotFound, StatusConflict


class ApiError(BaseModel):
    code: str
    message: str
    messages: dict[str, str] | None = None  # the same in zh and en, for a customer to read
    details: Any = None


def error(
    status: int, code: str, message: str, key: str | None = None, details: Any = None, **values: Any
) -> JSONResponse:
    body = ApiError(
        code=code,
        message=message,
        messages=both(key, **values) if key else None,
        details=details,
    )
    return JSONResponse(status_code=status, content=body.model_dump(exclude_none=True))


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "Bad input (code says which)"},
    404: {"model": ApiError, "description": "Unknown conversation"},
    409: {"model": ApiError, "description": "Not allowed in the conversation's status"},
    413: {"model": ApiError, "description": "Message too long (code message_too_long)"},
    422: {"model": ApiError, "description": "Invalid request body"},
}


def install(app: FastAPI) -> None:
    @app.exception_handler(MessageRejected)
    async def rejected(_: Request, exc: MessageRejected) -> JSONResponse:
        status = 413 if exc.code == "message_too_long" else 400
        return error(status, exc.code, str(exc), exc.key, **exc.values)

    @app.exception_handler(ConversationNotFound)
    async def not_found(_: Request, exc: ConversationNotFound) -> JSONResponse:
        return error(404, "conversation_not_found", str(exc), "error_conversation_not_found")

    @app.exception_handler(InvalidTransition)
    async def invalid_transition(_: Request, exc: InvalidTransition) -> JSONResponse:
        details = {"status": exc.current, "wanted": exc.target}
        return error(409, "invalid_transition", str(exc), details=details)

    @app.exception_handler(StatusConflict)
    async def conflict(_: Request, exc: StatusConflict) -> JSONResponse:
        details = {"status": exc.actual, "expected": exc.expected}
        return error(409, "status_conflict", str(exc), details=details)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error(
                400, "invalid_json", "The request body is not valid JSON.", "error_bad_request"
            )
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
