"""Pre-approved crisis templates' API shapes (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from workflows.crisis_templates import MAX_VALUE_CHARS


class TemplateUseIn(BaseModel):
    """Publish from an approved template: a value for each of its variables, why, and the user's
    password (the signed use is their electronic signature)."""

    model_config = ConfigDict(extra="forbid")

    values: dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=MAX_VALUE_CHARS)]] = (
        Field(default_factory=dict, max_length=8)
    )
    reason: str = Field(min_length=3, max_length=2000)
    password: str = Field(min_length=1, max_length=1024)


class TemplateUseOut(BaseModel):
    id: str
    template_id: str
    template_version: int
    draft_id: str
    version: int
    content_hash: str
    channels: list[str]
    values: dict[str, str]
    title: str
    body: str
    user_id: str
    user_name: str
    reason: str
    used_at: datetime
    status: str
    outcome_reason: str
    finished_at: datetime | None


class TemplateOut(BaseModel):
    """An approved template version: its text as approved, what it may be filled with, who approved."""

    id: str
    template_id: str
    version: int
    content_hash: str
    title: str
    body: str
    channels: list[str]
    variables: list[str]
    places: list[str]
    # The approved phones still on the policy's list now (a number struck since is not offered).
    phones: list[str]
    author_id: str
    approvers: list[str]
    approved_at: datetime
    status: str
    uses: list[TemplateUseOut] = []


class Templates(BaseModel):
    templates: list[TemplateOut]
