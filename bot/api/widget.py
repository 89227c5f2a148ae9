"""What the customer widget asks before the first message: its first message (an AI
assistant answers, a person is there, the shop's privacy notice), its branding, and whether
someone could answer a handoff now. Anonymous and rate-limited."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from bot.access.accounts import Accounts, Role, User
from bot.access.ratelimit import RateLimiter
from bot.api.auth import client_address, requires
from bot.api.errors import ERROR_RESPONSES
from bot.desk.branding import Branding, StoredBranding, default_branding
from bot.desk.schedule import Staffing
from bot.settings import NoticeSettings


class NoticeText(BaseModel):
    text: str = Field(description="The first message: an AI assistant answers; a person is there")
    privacy_label: str = Field(description="The text of the link to the privacy notice")


class NoticePublic(BaseModel):
    zh: NoticeText
    en: NoticeText
    privacy_url: str | None = Field(description="The shop's privacy notice, if set")


def notice_public(notice: NoticeSettings) -> NoticePublic:
    url = notice.privacy_url
    if url is not None and not url.lower().startswith(("https://", "http://")):
        url = None  # a javascript: or data: address never becomes a link
    return NoticePublic(
        zh=NoticeText(text=notice.text_zh, privacy_label=notice.privacy_label_zh),
        en=NoticeText(text=notice.text_en, privacy_label=notice.privacy_label_en),
        privacy_url=url,
    )


class WidgetConfig(BaseModel):
    open_now: bool = Field(description="Within the opening hours now")
    agents_available: bool = Field(
        description="Someone could answer a handoff now: open, and at least one agent online"
    )
    next_open: datetime | None = Field(
        description="When closed: the next opening, in the shop's time zone; else null"
    )
    time_zone: str
    branding: Branding
    branded: bool = Field(
        description="An admin saved the branding; false: the built-in look, which the page's "
        "own data-kefu-brand-* attributes replace"
    )


def router(
    notice: NoticeSettings, staffing: Staffing, branding: StoredBranding, per_client: RateLimiter
) -> APIRouter:
    def limited(request: Request) -> None:
        per_client.hit("client", client_address(request))

    api = APIRouter(
        prefix="/api/widget",
        tags=["widget"],
        responses=ERROR_RESPONSES,
        dependencies=[Depends(limited)],
    )
    shown = notice_public(notice)

    @api.get("/notice", response_model=NoticePublic)
    def first_message() -> NoticePublic:
        """The widget's first message in both languages, and the privacy notice's address."""
        return shown

    @api.get("/config", response_model=WidgetConfig)
    def config() -> WidgetConfig:
        """The widget's branding and whether a person could answer now."""
        available = staffing.now()
        saved = branding.saved()
        return WidgetConfig(
            open_now=available.open_now,
            agents_available=available.agents_available,
            next_open=available.next_open,
            time_zone=staffing.hours.get().time_zone,
            branding=saved or default_branding(),
            branded=saved is not None,
        )

    return api


def admin_router(accounts: Accounts, branding: StoredBranding) -> APIRouter:
    """How the widget looks, for admins to see and change."""
    admin = Depends(requires(accounts, Role.ADMIN))
    api = APIRouter(prefix="/api/admin/widget", tags=["admin"], responses=ERROR_RESPONSES)

    @api.get("", response_model=Branding)
    def get_branding(_: User = admin) -> Branding:
        """The widget's name, greeting, colour, logo and launcher side (the defaults until an
        admin saves some)."""
        return branding.get()

    @api.put("", response_model=Branding)
    def put_branding(body: Branding, user: User = admin) -> Branding:
        """Replace the widget's branding; the widget shows it on its next load."""
        return branding.put(body, user.username)

    @api.delete("", response_model=Branding)
    def reset_branding(_: User = admin) -> Branding:
        """Back to the built-in look (and the page's own data-kefu-brand-* attributes)."""
        return branding.reset()

    return api
