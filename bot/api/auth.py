"""Log in and out; who may call what. Agents and admins hold a session cookie; customers are
anonymous but rate-limited."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from bot.access.accounts import AccessDenied, Accounts, Role, SessionInvalid, User
from bot.access.ratelimit import RateLimiter
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import ExactText

COOKIE = "kefu_session"


class Credentials(BaseModel):
    username: ExactText = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    username: str
    display_name: str
    role: Role
    expires_at: datetime | None = None


def client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client else "unknown"


def session_user(accounts: Accounts, token: str | None, role: Role) -> User:
    """The user of a session cookie, if they may act as `role`. Raises AccessDenied."""
    try:
        user = accounts.session(token).user
    except SessionInvalid as invalid:
        raise AccessDenied(401, invalid.code) from None
    if not user.may(role):
        raise AccessDenied(403, "forbidden")
    return user


def requires(accounts: Accounts, role: Role) -> Callable[..., User]:
    """A dependency: the calling user, who must be logged in as `role` (an admin may all)."""

    def dependency(request: Request) -> User:
        user = session_user(accounts, request.cookies.get(COOKIE), role)
        request.state.user = user  # who acted, for the audit log (bot/api/audit.py)
        return user

    return dependency


def router(
    accounts: Accounts,
    logins: RateLimiter,
    secure_cookies: bool,
    logged_out: Callable[[str], None] | None = None,
) -> APIRouter:
    api = APIRouter(prefix="/api/auth", tags=["access"])

    @api.post("/login", response_model=UserPublic, responses=ERROR_RESPONSES)
    def login(body: Credentials, request: Request, response: Response) -> UserPublic:
        """Log in as an agent or admin; sets the session cookie (HttpOnly, SameSite=Strict)."""
        logins.hit("login", client_address(request), body.username.strip().lower())
        session = accounts.log_in(body.username, body.password)
        if session is None:
            raise AccessDenied(401, "invalid_credentials")
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=int(accounts.lifetime.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            path="/",
        )
        user = session.user
        return UserPublic(**user.__dict__, expires_at=session.expires_at)

    @api.post("/logout", status_code=204)
    def logout(request: Request, response: Response) -> None:
        token = request.cookies.get(COOKIE)
        if logged_out is not None:
            with contextlib.suppress(SessionInvalid):
                logged_out(accounts.session(token).user.username)
        accounts.log_out(token)
        response.delete_cookie(COOKIE, path="/")

    @api.get("/me", response_model=UserPublic, responses=ERROR_RESPONSES)
    def me(request: Request) -> UserPublic:
        """The logged-in user; 401 not_logged_in or session_expired."""
        try:
            session = accounts.session(request.cookies.get(COOKIE))
        except SessionInvalid as invalid:
            raise AccessDenied(401, invalid.code) from None
        return UserPublic(**session.user.__dict__, expires_at=session.expires_at)

    return api


async def websocket_user(websocket: WebSocket, accounts: Accounts, role: Role) -> User | None:
    """The user of an (accepted) WebSocket, or None after closing it with 4401 / 4403."""
    try:
        return await run_in_threadpool(session_user, accounts, websocket.cookies.get(COOKIE), role)
    except AccessDenied as denied:
        await websocket.close(code=4000 + denied.status, reason=denied.code)
        return None
