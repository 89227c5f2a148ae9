"""User management for admins: the agents' and admins' accounts (list, add, change, reset a
password, deactivate and reactivate). The command line `kefu user` edits the same accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from bot.access.accounts import Accounts, Role, User
from bot.api.auth import requires
from bot.api.errors import ERROR_RESPONSES
from bot.api.fields import ExactText, PlainText

Username = Annotated[str, Path(min_length=1, max_length=64, description="The user's username")]


class UserCreate(BaseModel):
    username: ExactText = Field(min_length=1, max_length=64)
    display_name: PlainText = Field(default="", max_length=120)
    role: Role = Role.AGENT
    password: str = Field(min_length=1, max_length=1024)


class UserChange(BaseModel):
    display_name: PlainText | None = Field(default=None, max_length=120)
    role: Role | None = None
    active: bool | None = Field(default=None, description="false deactivates; true reactivates")
    password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="A new password (reset)"
    )


class UserListed(BaseModel):
    username: str
    display_name: str
    role: Role
    active: bool


class Users(BaseModel):
    users: list[UserListed]


def listed(user: User) -> UserListed:
    return UserListed(
        username=user.username, display_name=user.display_name, role=user.role, active=user.active
    )


def router(accounts: Accounts) -> APIRouter:
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(
        prefix="/api/admin/users", tags=["admin"], responses=ERROR_RESPONSES, dependencies=[admin]
    )

    @api.get("", response_model=Users)
    def list_users() -> Users:
        """Every agent and admin, deactivated ones included."""
        return Users(users=[listed(u) for u in accounts.list()])

    @api.post("", status_code=201, response_model=UserListed)
    def add_user(body: UserCreate, request: Request) -> UserListed:
        """Add an agent or an admin."""
        user = accounts.add(body.username, body.password, body.role, body.display_name)
        request.state.audit_target = user.username
        return listed(user)

    @api.patch("/{username}", response_model=UserListed)
    def change_user(username: Username, body: UserChange) -> UserListed:
        """Change the display name or role, reset the password, deactivate or reactivate.
        A deactivated user's sessions end; the last active admin cannot be demoted or
        deactivated (409 last_admin)."""
        return listed(
            accounts.update(
                username,
                display_name=body.display_name,
                role=body.role,
                active=body.active,
                password=body.password,
            )
        )

    @api.delete("/{username}", response_model=UserListed)
    def deactivate_user(username: Username) -> UserListed:
        """Deactivate a user (kept, so their name stays on past conversations): they cannot
        log in and their sessions end. PATCH with active true brings them back."""
        return listed(accounts.update(username, active=False))

    return api
