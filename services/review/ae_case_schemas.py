"""The adverse-event case API's shapes (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class CaseEventOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    details: dict[str, Any]


class CaseOut(BaseModel):
    id: str
    comment_id: str
    status: str
    assigned_role: str
    network: str
    account: str
    draft_id: str
    comment_url: str | None
    reporter: str
    day0: datetime
    handoff_due: datetime
    regulatory_due: datetime
    # Hours left on each clock (negative once passed; None once met).
    hours_left: dict[str, float | None]
    elements: dict[str, str | None]
    missing: list[str]
    products: list[str]
    events: list[str]
    handed_off_at: datetime | None
    handoff_reference: str
    closed_at: datetime | None
    close_reason: str
    steps: list[CaseEventOut] = []


class CaseList(BaseModel):
    cases: list[CaseOut]


class FollowUpIn(BaseModel):
    template: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000)


class HandOffIn(BaseModel):
    # The safety database's reference for the hand-off (e.g. its case number or ticket).
    reference: str = Field(min_length=1, max_length=200)


class CloseIn(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)
