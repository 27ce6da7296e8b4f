from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class VersionContent(BaseModel):
    """The part of the drafts service's version answer the publisher uses."""

    model_config = ConfigDict(extra="ignore")

    draft_id: str
    version: int
    title: str
    body: str
    channels: list[str]
    media_digests: list[str]
    content_hash: str
    # Who wrote the draft: the publisher compares it with the author the signed requirement names.
    author_id: str
    # What the draft is for (post | crisis_template | crisis_from_template): a template itself is
    # never posted, a post filled from one only with its signed template records.
    purpose: str = "post"
    template_id: str | None = None
    template_version: int | None = None


class ConsentVerdict(BaseModel):
    """The drafts service's consent gate for one version, asked immediately before posting."""

    model_config = ConfigDict(extra="ignore")

    ok: bool
    reasons: list[str] = []


class DraftReaders(BaseModel):
    """The drafts service's read rule for one draft: its author, and the roles that read every draft."""

    model_config = ConfigDict(extra="ignore")

    draft_id: str
    author_id: str
    reader_roles: list[str]


class PublicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    draft_id: str
    version: int
    channel: str
    content_hash: str
    status: str
    external_id: str | None
    created_at: datetime
    published_at: datetime | None
    network: str | None = None
    # Where the public sees the post (None for channels without public addresses).
    url: str | None = None
    removed_at: datetime | None = None
    # The network's answer to the takedown's delete: ids, status, time.
    removal: dict[str, object] | None = None

    @field_validator("created_at", "published_at", "removed_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands timestamps back without their offset; they were written in UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class PublicationList(BaseModel):
    publications: list[PublicationOut]


class ChannelOut(BaseModel):
    """One channel a draft may name: its network, its length rule and whether it can be used now
    (`usable`: connected, its credentials accepted, not paused; `reason` says why not)."""

    name: str
    max_length: int
    network: str = ""
    unit: str = "characters"
    status: str = "ok"
    reason: str = ""
    paused: bool = False
    usable: bool = True
    # Characters the network's feed shows before "more" (None: the whole text).
    fold: int | None = None


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class RenditionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=100_000)
    channels: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=20)
    media_count: int = Field(default=0, ge=0, le=100)


class RenditionOut(BaseModel):
    """One channel's rendition: the exact text it shows, its length as the network counts it, and
    what keeps it from fitting (empty: it fits)."""

    channel: str
    network: str
    text: str
    length: int
    max_length: int
    unit: str
    fold: int | None
    fits: bool
    problems: list[str]


class RenditionList(BaseModel):
    renditions: list[RenditionOut]


# --- channel accounts ------------------------------------------------------------------------


ACCOUNT_NETWORKS = Literal[
    "facebook", "instagram", "linkedin", "x", "mastodon", "bluesky", "sandbox", "webhook"
]


class ChannelAccountIn(BaseModel):
    """Connect an account without a browser: Mastodon (`access_token`), Bluesky (`identifier`,
    `app_password`), a named sandbox outbox, or a webhook (`base_url`, `secret`). Facebook,
    Instagram, LinkedIn and X connect through `GET /api/v1/channel-accounts/{network}/authorize`."""

    model_config = ConfigDict(extra="forbid")

    network: ACCOUNT_NETWORKS
    name: str = Field(min_length=1, max_length=64)
    base_url: str | None = Field(default=None, max_length=300)
    access_token: SecretStr | None = Field(default=None, max_length=4096)
    identifier: str | None = Field(default=None, max_length=256)
    app_password: SecretStr | None = Field(default=None, max_length=256)
    secret: SecretStr | None = Field(default=None, max_length=1024)


class ChannelAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    network: str
    base_url: str
    status: str
    status_reason: str
    account_ref: str | None
    display_name: str | None
    scopes: list[str]
    facts: dict[str, str]
    expires_at: datetime | None
    connected_by: str
    connected_at: datetime
    checked_at: datetime | None
    disconnected_at: datetime | None
    paused: bool = False
    usable: bool = True

    @field_validator("expires_at", "connected_at", "checked_at", "disconnected_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ChannelAccountList(BaseModel):
    accounts: list[ChannelAccountOut]


class AuthorizationStarted(BaseModel):
    """Where to send the admin's browser; the network sends it back to the callback."""

    authorization_url: str
    expires_at: datetime


# --- takedown, pause, live posts -------------------------------------------------------------


class SignedAction(BaseModel):
    """A reason, and the password re-entered: what a takedown, a pause and a resume need."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class PauseIn(SignedAction):
    # Pause one connected account (by name) instead of all publishing.
    account: str | None = Field(default=None, max_length=64)


class PauseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    scope: str
    reason: str
    paused_by: str
    paused_at: datetime


class PublishingState(BaseModel):
    """Whether anything is paused now: the review UI shows a banner while `paused_all` is set."""

    paused_all: bool
    pauses: list[PauseOut]
    held: list[str]


class ResumeOut(BaseModel):
    scope: str
    woken: list[str]


class RemovedByHand(BaseModel):
    publication_id: str
    # True when this was the last of the draft's posts still up: its takedown is done.
    takedown_done: bool


class TakedownAccepted(BaseModel):
    draft_id: str
    status: str
    request_id: str


class InternalTakedownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    cause: Literal["consent_revoked", "takedown"] = "consent_revoked"


class LivePostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    draft_id: str
    version: int
    status: str
    published_at: datetime
    expires_at: datetime | None
    on_expiry: str
    takedown_reason: str
    takedown_failure: str
    takedown_requested_at: datetime | None
    takedown_completed_at: datetime | None

    @field_validator("published_at", "expires_at", "takedown_requested_at", "takedown_completed_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class LivePostList(BaseModel):
    live_posts: list[LivePostOut]
