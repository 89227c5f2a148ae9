"""What the customer widget asks before the first message: its branding, and whether someone
could answer a handoff now. Anonymous."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bot.answering.texts import both
from bot.desk.schedule import Staffing


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


def router(staffing: Staffing) -> APIRouter:
    api = APIRouter(prefix="/api/widget", tags=["widget"])

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
