"""How the customer widget looks: the shop's name and greeting (zh and en), its main colour, a
logo and the launcher's side. An admin edits it; it is stored with the opening hours (one row
of shop_settings), and the texts' brand name and greeting stand until an admin saves one. Until
then a shop's page may give the widget its own look (data-kefu-brand-* on the script tag)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from bot.answering.texts import both
from bot.conversation.events import now
from bot.conversation.sql import writer
from bot.desk.schedule import shop_settings
from ingest.plain_text import UnsafeText, plain_text

BRANDING_KEY = "widget_branding"
COLOUR = re.compile(r"^#[0-9a-f]{6}$")
DEFAULT_PRIMARY = "#0b5cad"


class PerLanguage(BaseModel):
    zh: str = Field(max_length=200, description="Traditional Chinese")
    en: str = Field(max_length=200, description="English")

    @field_validator("zh", "en")
    @classmethod
    def _plain(cls, value: str) -> str:
        try:
            return plain_text(value).strip()
        except UnsafeText as unsafe:
            raise PydanticCustomError(unsafe.code, str(unsafe)) from None


class Branding(BaseModel):
    name: PerLanguage = Field(description="The shop's name in the widget's header")
    greeting: PerLanguage = Field(description="The widget's first words to a customer")
    primary_colour: str = Field(
        default=DEFAULT_PRIMARY, description="The launcher's and header's colour, #rrggbb"
    )
    logo_url: str | None = Field(
        default=None, max_length=2000, description="An http(s) address of the shop's logo"
    )
    position: Literal["left", "right"] = Field(
        default="right", description="The launcher's corner: bottom left or bottom right"
    )

    @field_validator("primary_colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        value = value.strip().lower()
        if not COLOUR.match(value):
            raise PydanticCustomError("invalid_colour", "a colour is written #rrggbb")
        return value

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.lower().startswith(("https://", "http://")) or any(
            c in value for c in " \"'<>\\"
        ):
            raise PydanticCustomError(
                "invalid_logo_url", "a logo address starts with http:// or https://"
            )
        return value


def default_branding() -> Branding:
    return Branding(
        name=PerLanguage(**both("brand_name")), greeting=PerLanguage(**both("greeting"))
    )


class StoredBranding:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self) -> Branding:
        return self.saved() or default_branding()

    def saved(self) -> Branding | None:
        """The branding an admin saved; None while the built-in look stands."""
        with self.engine.connect() as conn:
            value: Any = conn.execute(
                select(shop_settings.c.value).where(shop_settings.c.key == BRANDING_KEY)
            ).scalar_one_or_none()
        return None if value is None else Branding.model_validate(value)

    def reset(self) -> Branding:
        """Forget the saved branding: the built-in look (or the page's own) stands again."""
        with writer(self.engine).begin() as conn:
            conn.execute(delete(shop_settings).where(shop_settings.c.key == BRANDING_KEY))
        return default_branding()

    def put(self, branding: Branding, username: str) -> Branding:
        row = {
            "key": BRANDING_KEY,
            "value": branding.model_dump(mode="json"),
            "updated_at": now(),
            "updated_by": username,
        }
        with writer(self.engine).begin() as conn:
            conn.execute(delete(shop_settings).where(shop_settings.c.key == BRANDING_KEY))
            conn.execute(insert(shop_settings).values(**row))
        return branding
