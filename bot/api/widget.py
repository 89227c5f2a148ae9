"""What the widget shows before any conversation: the first message, that the customer talks
to an AI assistant and may ask for a person, with a link to the shop's privacy notice."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request

from bot.access.ratelimit import RateLimiter
from bot.api.auth import client_address
from bot.api.errors import ERROR_RESPONSES
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


def router(notice: NoticeSettings, per_client: RateLimiter) -> APIRouter:
    def limited(request: Request) -> None:
        per_client.hit("client", client_address(request))

    api = APIRouter(prefix="/api/widget", tags=["conversations"])
    shown = notice_public(notice)

    @api.get(
        "/notice",
        response_model=NoticePublic,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(limited)],
    )
    def first_message() -> NoticePublic:
        """The widget's first message in both languages, and the privacy notice's address."""
        return shown

    return api
