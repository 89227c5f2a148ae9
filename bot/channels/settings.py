"""The settings of the messaging channels (sections `line` and `messenger` of `Settings`).

A channel whose credentials are missing is off: its webhook answers 404.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class LineSettings(BaseModel):
    channel_secret: SecretStr | None = Field(
        default=None,
        description="The LINE channel secret (LINE Developers console → Basic settings): "
        "verifies X-Line-Signature. LINE is off while this or the access token is unset.",
    )
    channel_access_token: SecretStr | None = Field(
        default=None,
        description="The LINE channel access token (long-lived), sent as the Bearer token.",
    )
    api_base_url: str = Field(
        default="https://api.line.me",
        description="Base URL of the LINE Messaging API (tests point it at a local fake).",
    )
    content_base_url: str = Field(
        default="https://api-data.line.me",
        description="Base URL of LINE's content API, where the pictures customers send are "
        "downloaded from (tests point it at a local fake).",
    )
    reply_window_s: float = Field(
        default=50.0,
        description="A reply token older than this is not tried: the answer goes by push "
        "(LINE keeps reply tokens valid for a short, unspecified time; push uses the quota).",
    )
    timeout_s: float = Field(default=10.0, description="Seconds to wait for the LINE API.")

    @property
    def enabled(self) -> bool:
        return bool(self.channel_secret and self.channel_access_token)


class MessengerSettings(BaseModel):
    app_secret: SecretStr | None = Field(
        default=None,
        description="The Meta app secret: verifies X-Hub-Signature-256. Messenger is off while "
        "this, the verify token or the page access token is unset.",
    )
    verify_token: SecretStr | None = Field(
        default=None,
        description="The token typed into Meta's webhook settings, checked on its GET request.",
    )
    page_access_token: SecretStr | None = Field(
        default=None, description="The Facebook page's access token for the Send API."
    )
    graph_api_url: str = Field(
        default="https://graph.facebook.com/v23.0",
        description="Base URL of the Graph API with its version (tests point it at a fake).",
    )
    timeout_s: float = Field(default=10.0, description="Seconds to wait for the Graph API.")

    @property
    def enabled(self) -> bool:
        return bool(self.app_secret and self.verify_token and self.page_access_token)
