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
    # Distinct approvals the stage needs, and the named people who decide it (user ids or
    # usernames; empty: any holder of `roles`), from the policy when the task opened.
    quorum: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    deciders: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # When the stage's SLA passes (null: none).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


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


class ReviewNotice(Base):
    """The outbox of review notices: a reminder, an escalation or an expired review, whom it is for,
    and when it was delivered (the notification slice delivers; until then `delivered_at` is null).
    `key` (draft:version:stage:kind:n) names each notice once. An adverse-event case's clock notice
    (kind case_reminder or case_escalation, key `ae_case:<case>:clock:<clock>:<kind>`) keeps the
    case's draft with version 0, its clock as `stage` and the case's id as `reason`."""

    __tablename__ = "review_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    draft_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    # reminder, escalation, expired, requested, changes_requested (notifications/events.py)
    kind: Mapped[str] = mapped_column(String(32))
    n: Mapped[int] = mapped_column(Integer)
    # "user:<id or username>" and "role:<role>" entries.
    recipients: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)


class ReviewDelegation(Base):
    """A reviewer away from `starts_at` to `ends_at`: `delegate` (user id or username) stands in for
    them on the named-people stages they decide."""

    __tablename__ = "review_delegations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delegator_id: Mapped[str] = mapped_column(String(64), index=True)
    delegator_username: Mapped[str] = mapped_column(String(200))
    delegator_name: Mapped[str] = mapped_column(String(200))
    delegate: Mapped[str] = mapped_column(String(200), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)

    def active(self, at: datetime) -> bool:
        return self.cancelled_at is None and self.starts_at <= at < self.ends_at

    def names(self) -> set[str]:
        return {self.delegator_id, self.delegator_username}
