from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator


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

    @field_validator("created_at", "published_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands timestamps back without their offset; they were written in UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class PublicationList(BaseModel):
    publications: list[PublicationOut]


class ChannelOut(BaseModel):
    name: str
    max_length: int


class ChannelList(BaseModel):
    channels: list[ChannelOut]
