"""What the customer widget asks before the first message: its first message (an AI
assistant answers, a person is there, the shop's privacy notice), its branding, and whether
someone could answer a handoff now. Anonymous and rate-limited."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from bot.access.ratelimit import RateLimiter
from bot.answering.texts import both
from bot.api.auth import client_address
from bot.api.errors import ERROR_RESPONSES
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


class Branding(BaseModel):
    name: dict[str, str] = Field(description="The widget's title, per language (zh, en)")
    greeting: dict[str, str] = Field(description="The first thing the widget says, per language")


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


def router(notice: NoticeSettings, staffing: Staffing, per_client: RateLimiter) -> APIRouter:
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
        return WidgetConfig(
            open_now=available.open_now,
            agents_available=available.agents_available,
            next_open=available.next_open,
            time_zone=staffing.hours.get().time_zone,
            branding=Branding(name=both("brand_name"), greeting=both("greeting")),
        )

    return api
