"""The notification API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.review.notifications.events import EVENT_KINDS, EventKind, NotificationEvent

Channel = Literal["email", "inbox"]


class Preferences(BaseModel):
    """Per event kind, the channels the caller gets it on (a kind left out: both); the address
    e-mails go to; and digest mode (hourly or daily: one e-mail per period instead of one per event)."""

    model_config = ConfigDict(extra="forbid")

    # addr-spec only (no display name, no whitespace: nothing that could add a header)
    email: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$"
    )
    channels: dict[EventKind, list[Channel]] = Field(default_factory=dict)
    digest: Literal["off", "hourly", "daily"] = "off"

    @field_validator("channels")
    @classmethod
    def _distinct(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {kind: sorted(set(channels)) for kind, channels in value.items()}


class InboxItemOut(BaseModel):
    id: str
    event: NotificationEvent
    summary: str
    created_at: datetime
    read_at: datetime | None


class Inbox(BaseModel):
    unread: int
    items: list[InboxItemOut]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    kinds: list[EventKind] = Field(min_length=1)
    description: str = Field(default="", max_length=200)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("a webhook URL has no spaces or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError("a webhook URL is http:// or https://")
        if not parts.hostname:
            raise ValueError("a webhook URL names a host")
        if parts.username or parts.password:
            raise ValueError("a webhook URL carries no user name or password; the signature authenticates")
        try:
            httpx.URL(value)
            _ = parts.port  # a port that is not a number
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"a webhook URL the HTTP client can use ({exc})") from exc
        return value

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=EVENT_KINDS.index)


class WebhookOut(BaseModel):
    id: str
    url: str
    kinds: list[str]
    description: str
    created_at: datetime
    created_by: str


class WebhookCreated(WebhookOut):
    # Shown once, here: the receiver verifies every delivery's signature with it.
    secret: str


class Webhooks(BaseModel):
    webhooks: list[WebhookOut]


class DeadLetter(BaseModel):
    id: str
    endpoint_id: str
    event: NotificationEvent
    attempts: int
    last_error: str | None
    created_at: datetime


class DeadLetters(BaseModel):
    dead_letters: list[DeadLetter]
