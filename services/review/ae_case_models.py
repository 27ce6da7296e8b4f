"""The review service's tables for comments: each comment's screening, adverse-event cases and
every step of a case. (In a module of their own so the case work reads in one place; the same
`Base` and metadata as models.py, and migration 0009 creates them.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import UTCDateTime
from services.review.models import Base

CASE_OPEN = "open"
CASE_HANDED_OFF = "handed_off"
CASE_CLOSED = "closed"


class CommentScreening(Base):
    """One comment screened (`kind: comment`), with its findings and the case's minimum elements
    as the text showed them. The comment itself (its sealed text) is the publisher's."""

    __tablename__ = "comment_screenings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    comment_id: Mapped[str] = mapped_column(String(36), unique=True)
    network: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    draft_id: Mapped[str] = mapped_column(String(36))
    author: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime())
    policy_version: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON)
    products: Mapped[list[str]] = mapped_column(JSON)
    drugs: Mapped[list[str]] = mapped_column(JSON)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The four minimum elements of a valid case, each what the text showed or None when missing.
    elements: Mapped[dict[str, str | None]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AeCase(Base):
    """An adverse event reported in a comment: assigned to pharmacovigilance, with its clocks."""

    __tablename__ = "ae_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    comment_id: Mapped[str] = mapped_column(String(36), unique=True)
    screening_id: Mapped[str] = mapped_column(String(36))
    network: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    draft_id: Mapped[str] = mapped_column(String(36))
    comment_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reporter: Mapped[str] = mapped_column(String(200))
    day0: Mapped[datetime] = mapped_column(UTCDateTime())
    handoff_due: Mapped[datetime] = mapped_column(UTCDateTime())
    regulatory_due: Mapped[datetime] = mapped_column(UTCDateTime())
    elements: Mapped[dict[str, str | None]] = mapped_column(JSON)
    missing: Mapped[list[str]] = mapped_column(JSON)
    products: Mapped[list[str]] = mapped_column(JSON)
    events: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    assigned_role: Mapped[str] = mapped_column(String(32))
    clocks: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    handed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    handed_off_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handoff_reference: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    close_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class AeCaseEvent(Base):
    """One step of a case, in order: opened, a reminder or escalation, a follow-up, hand-off, close."""

    __tablename__ = "ae_case_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    # `clock:<clock>:<kind>` once per case: a retried activity records nothing twice.
    key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
