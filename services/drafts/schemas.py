from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

MAX_BODY_CHARS = 20_000
MAX_CONSENTS = 10
DIGEST = re.compile(r"^[0-9a-f]{64}$")


class DraftIn(BaseModel):
    """A new draft or a new version of one: everything the content hash covers, plus routing."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    # The OpenAPI document also names the configured channels (document_channels, services/drafts/main.py).
    channels: list[str] = Field(min_length=1, max_length=10, json_schema_extra={"uniqueItems": True})
    patient_content: StrictBool = False
    consent_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_CONSENTS
    )
    consent_id: str | None = Field(
        default=None,
        max_length=64,
        description="Deprecated: one consent; use consent_ids. Merged into consent_ids when given.",
        json_schema_extra={"deprecated": True},
    )
    scheduled_at: AwareDatetime | None = None
    # Set when the draft is created and kept by its versions: `crisis_template` is text with typed
    # variables ({time}, {date}, {place}, {phone}) that passes the full review once and is never
    # published itself (docs/crisis-lane.md). Omitted on a new version: the draft's own.
    purpose: Literal["post", "crisis_template"] | None = None

    @field_validator("channels")
    @classmethod
    def _distinct_channels(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value

    @field_validator("consent_ids")
    @classmethod
    def _consent_ids(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _merge_deprecated_consent_id(self) -> DraftIn:
        if self.consent_id and self.consent_id not in self.consent_ids:
            self.consent_ids = [self.consent_id, *self.consent_ids]
        self.consent_id = None
        return self


def document_channels(openapi: dict[str, Any], channels: list[str]) -> dict[str, Any]:
    """`openapi` with DraftIn's `channels` limited to `channels` (the deployment's configured names),
    so a schema-valid draft names only channels the publisher posts to."""
    items = openapi["components"]["schemas"]["DraftIn"]["properties"]["channels"]["items"]
    items["enum"] = sorted(set(channels))
    return openapi


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=2000)


class DecisionOut(BaseModel):
    decider: str
    decider_name: str = ""
    decision: str
    reason: str
    at: str
    content_hash: str


class StageOut(BaseModel):
    stage: str
    status: str
    roles: list[str] = []
    decisions: list[DecisionOut] = []
    # Distinct approvals of the version under review, of the quorum the stage needs ("1 of 2").
    approvals: int = 0
    quorum: int = 1
    # When the stage's review SLA passes (null: none), and whether it was escalated.
    due_at: datetime | None = None
    escalated: bool = False


class MediaOut(BaseModel):
    """One image of the draft's current version, and what is known about who it shows."""

    digest: str
    media_type: str
    width: int
    height: int
    size: int
    faces: list[list[int]] = Field(description="Boxes [x, y, w, h] of the faces found")
    staff_stock: bool = Field(description="The author says it shows staff or is a stock photo")
    staff_stock_confirmed_by: str | None
    consent_id: str | None = Field(description="The consent the author names for this image")
    patient: bool = Field(description="Counts as patient content: a face not confirmed as staff/stock")
    url: str


class DraftOut(BaseModel):
    id: str
    version: int
    content_hash: str
    status: str
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_ids: list[str] = []
    consent_id: str | None = Field(default=None, description="Deprecated: the first of consent_ids")
    media: list[MediaOut] = []
    scheduled_at: datetime | None
    author_id: str
    author_name: str
    stages: list[StageOut]
    note: str
    created_at: datetime
    updated_at: datetime
    purpose: str = "post"
    # For a post made from a crisis template: the template draft and version it filled.
    template_id: str | None = None
    template_version: int | None = None


class DraftSummary(BaseModel):
    id: str
    version: int
    status: str
    title: str
    channels: list[str]
    author_id: str
    author_name: str
    updated_at: datetime
    # When it is to be published (UTC), for the review UI's calendar; None: as soon as it is approved.
    scheduled_at: datetime | None = None
    purpose: str = "post"


class DraftList(BaseModel):
    drafts: list[DraftSummary]


class MediaConsentOut(BaseModel):
    """An image of the version that shows a patient: covered by a valid consent now, or why not."""

    digest: str
    covered: bool
    why: str = ""
    consent_id: str | None = None
    detail: str = ""


class VersionContent(BaseModel):
    """What other services read to screen, review or publish one exact version."""

    draft_id: str
    version: int
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_ids: list[str] = []
    consent_id: str | None = None  # deprecated: the first of consent_ids
    # Whether a consent the version relies on is active now (screening's consent_missing rule).
    consent_on_file: bool = False
    media_digests: list[str]
    media: list[MediaOut] = []
    # Consent coverage of each image that shows a patient, now (screening records a finding per gap).
    media_consent: list[MediaConsentOut] = []
    content_hash: str
    author_id: str
    created_at: datetime
    extra: dict[str, Any] = {}
    # The draft's purpose (post | crisis_template | crisis_from_template) and, for a post filled
    # from a template, which template version: the publisher refuses to post a template itself.
    purpose: str = "post"
    template_id: str | None = None
    template_version: int | None = None


class FromTemplateIn(BaseModel):
    """The review service: store a crisis template's text filled with `values` as a new draft of
    `author_id` (the crisis holder publishing it). `draft_id` is the caller's, so a retry makes
    nothing twice. The values were checked against the template's approval by the caller; the
    publisher checks them again before it posts."""

    model_config = ConfigDict(extra="forbid")

    draft_id: str = Field(min_length=36, max_length=36)
    template_id: str = Field(min_length=1, max_length=36)
    template_version: int = Field(ge=1, le=2**31 - 1)
    values: dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=120)]] = Field(
        max_length=8
    )
    author_id: str = Field(min_length=1, max_length=64)
    author_name: str = Field(min_length=1, max_length=200)


class DraftReaders(BaseModel):
    """Who may read a draft, for services that show something of it (the publisher's records)."""

    draft_id: str
    author_id: str
    reader_roles: list[str] = Field(
        description="Roles that may read every draft; the author may read their own"
    )


class VersionOut(BaseModel):
    """One version of a draft as its readers see it (for comparing versions)."""

    version: int
    title: str
    body: str
    channels: list[str]
    patient_content: bool
    consent_ids: list[str] = []
    consent_id: str | None = None  # deprecated: the first of consent_ids
    media_digests: list[str] = []
    scheduled_at: datetime | None
    content_hash: str
    created_at: datetime


class VersionList(BaseModel):
    draft_id: str
    versions: list[VersionOut]


# --- media --------------------------------------------------------------------------------------


class MediaPatch(BaseModel):
    """The author's statements about an image: staff/stock (needs compliance to confirm), its consent."""

    model_config = ConfigDict(extra="forbid")

    staff_stock: StrictBool | None = None
    consent_id: str | None = Field(default=None, max_length=64)
    clear_consent: StrictBool = False


# --- consent records ----------------------------------------------------------------------------


class ConsentIn(BaseModel):
    """A patient's written consent as compliance records it (the signed form is uploaded with it)."""

    model_config = ConfigDict(extra="forbid")

    patient_ref: str = Field(
        min_length=1,
        max_length=200,
        description="The organization's reference for the patient (as little as it needs); encrypted at rest",
    )
    first_name: str = Field(min_length=1, max_length=100, description="Encrypted at rest")
    last_name: str = Field(default="", max_length=100, description="Encrypted at rest")
    name_use: Literal["none", "first_name", "full_name"] = Field(
        description="How a post may name the patient: not at all, first name only, or full name"
    )
    story_use: StrictBool = Field(description="The patient's story may be told")
    channels: list[str] = Field(min_length=1, max_length=10, description="Channels the consent covers")
    media_digests: list[str] = Field(
        default_factory=list, max_length=50, description="SHA-256 digests of the images it covers"
    )
    collected_by: str = Field(min_length=1, max_length=200, description="Who collected the signed form")
    collected_on: date
    expires_on: date

    @field_validator("media_digests")
    @classmethod
    def _digests(cls, value: list[str]) -> list[str]:
        for digest in value:
            if not DIGEST.match(digest):
                raise ValueError("media digests are 64 lowercase hex characters (SHA-256)")
        return list(dict.fromkeys(value))

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _dates(self) -> ConsentIn:
        if self.expires_on < self.collected_on:
            raise ValueError("expires_on must not be before collected_on")
        if self.name_use != "none" and not self.first_name.strip():
            raise ValueError("a first name is needed")
        return self


class ConsentScope(BaseModel):
    """What a consent covers and its state, without who the patient is (for a draft's readers)."""

    id: str
    state: Literal["active", "expired", "revoked"]
    name_use: str
    story_use: bool
    channels: list[str]
    media_digests: list[str]
    collected_on: date
    expires_on: date
    revoked_at: datetime | None
    form_media_type: str
    form_url: str


class ConsentOut(ConsentScope):
    """The whole record, for compliance and admins (reading it is an audit event)."""

    patient_ref: str
    first_name: str
    last_name: str
    collected_by: str
    recorded_by: str
    recorded_at: datetime
    revoked_by: str | None
    revoke_reason: str
    form_digest: str
    form_size: int


class ConsentList(BaseModel):
    consents: list[ConsentOut]


class ConsentSearch(BaseModel):
    """The consent list's filters in a request body, so a patient reference stays out of URLs
    (access logs, traces, browser history); the same filters as `GET /api/v1/consents`."""

    model_config = ConfigDict(extra="forbid")

    patient_ref: str | None = Field(default=None, max_length=200, description="Exact patient reference")
    state: Literal["active", "expired", "revoked"] | None = None
    limit: int = Field(default=100, ge=1, le=500)


class DraftConsents(BaseModel):
    draft_id: str
    consents: list[ConsentScope]
    missing: list[str] = Field(default_factory=list, description="Named ids with no record")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RevocationEffect(BaseModel):
    draft_id: str
    status_before: str
    action: Literal["withdrawn", "sent_back_to_review", "takedown_required", "none", "signal_failed"]
    detail: str = ""


class RevocationOut(BaseModel):
    consent: ConsentOut
    effects: list[RevocationEffect]


# --- live posts (the publisher reports) ---------------------------------------------------------


class LiveStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["taken_down", "takedown_failed", "re_review"]
    reason: str = Field(max_length=4000)
    cause: str = Field(default="takedown", max_length=64)


class LiveStateOut(BaseModel):
    draft_id: str
    status_before: str
    status: str
    # The version sent back to review (re_review only).
    version: int | None = None


# --- takedown tasks -----------------------------------------------------------------------------


class TakedownOut(BaseModel):
    id: str
    draft_id: str
    version: int
    consent_id: str
    reason: str
    status: Literal["open", "done"]
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    note: str


class TakedownList(BaseModel):
    takedowns: list[TakedownOut]


class TakedownDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class ConsentCheckIn(BaseModel):
    """The consent gate, asked by the publisher immediately before it posts (services only)."""

    model_config = ConfigDict(extra="forbid")

    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    channels: list[str] = Field(min_length=1, max_length=20)
    # The review service's screening categories, as its signed stage requirement carries them.
    screening_categories: list[str] = Field(default_factory=list, max_length=20)


class ConsentCheckOut(BaseModel):
    ok: bool
    required: bool
    reasons: list[str]
    consent_ids: list[str]
