from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class PolicyVersion(Base):
    """Every policy document the service has loaded, under its content-derived id."""

    __tablename__ = "policy_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Screening(Base):
    __tablename__ = "screenings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    policy_version: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON)
    products: Mapped[list[str]] = mapped_column(JSON)
    # Each finding as `Finding.as_dict()`; image findings carry `media_digest` (older rows lack the key).
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    blocking: Mapped[bool] = mapped_column(Boolean)
    # The draft's author, so they may read a screening no review was opened for (null before 0005).
    author_id: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewTask(Base):
    """One stage of one version waiting for a decision."""

    __tablename__ = "review_tasks"
    __table_args__ = (UniqueConstraint("draft_id", "version", "stage"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    author_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(32))
    screening_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | decided | closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReviewDecision(Base):
    """A decision the workflow accepted, bound to the exact content hash it judged."""

    __tablename__ = "review_decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    decider_id: Mapped[str] = mapped_column(String(64), index=True)
    decider_name: Mapped[str] = mapped_column(String(200))
    decider_roles: Mapped[list[str]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(32))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FindingOverride(Base):
    """A compliance reviewer's audited decision that one blocking finding may stand."""

    __tablename__ = "finding_overrides"
    __table_args__ = (UniqueConstraint("screening_id", "finding_index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    screening_id: Mapped[str] = mapped_column(String(36), index=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    finding_index: Mapped[int] = mapped_column(Integer)
    finding_rule: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    reviewer_id: Mapped[str] = mapped_column(String(64))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OffboardedUser(Base):
    """A deactivated user the review service has finished offboarding (sessions, claims, approvals).

    Keyed by user and deactivation time: a user deactivated again after a reactivation is
    offboarded again.
    """

    __tablename__ = "offboarded_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deactivated_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_drafts: Mapped[list[str]] = mapped_column(JSON)


class ScreeningMark(Base):
    """A reviewer's correction of one screening, bound to the version it judged: a finding marked
    wrong (`mark` "wrong", with its index) or a passage the screener missed (`mark` "missed")."""

    __tablename__ = "screening_marks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    screening_id: Mapped[str] = mapped_column(String(36), index=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    mark: Mapped[str] = mapped_column(String(16))  # wrong | missed
    category: Mapped[str] = mapped_column(String(64))
    finding_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finding_rule: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The finding's matched text, or the missed passage exactly as it appears in the version.
    passage: Mapped[str] = mapped_column(Text)
    start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    # What was screened (title + "\n" + body) and its consent flag: the labeled example's text and
    # context, kept here because the review service never reads the drafts service's tables.
    screened_text: Mapped[str] = mapped_column(Text)
    consent_on_file: Mapped[bool] = mapped_column(Boolean)
    reviewer_id: Mapped[str] = mapped_column(String(64))
    reviewer_name: Mapped[str] = mapped_column(String(200))
    reviewer_roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AllowListProposal(Base):
    """A "this is ours" proposal from a wrong PHI mark; once a second compliance reviewer approves it,
    the value is part of the allow-list every later screening uses."""

    __tablename__ = "allow_list_proposals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mark_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # staff | address | phone | email | organization | ...
    value: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | approved | rejected
    proposer_id: Mapped[str] = mapped_column(String(64))
    proposer_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decider_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
