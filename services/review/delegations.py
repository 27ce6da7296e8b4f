"""Out-of-office delegation: a reviewer names who decides for them while they are away.

A delegate stands in for the absent reviewer on the named-people stages (`quorum.of`) that name
them: those tasks show in the delegate's queue, and the delegate's decision counts toward the
quorum. The delegate still needs the stage's role and may not be the draft's author; both are
checked when they decide (services/review/deciders.py), since roles can change meanwhile. On
stages any holder of the role decides, a delegation changes nothing: the role's queue already
shows them to every holder.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditClient
from services.kit.clock import utcnow
from services.kit.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.kit.tokens import Principal
from services.review.deciders import names_of
from services.review.models import ReviewDelegation
from services.review.policy import REVIEW_ROLES
from services.review.repository import ReviewRepository
from services.review.schemas import DelegationIn, DelegationOut, Delegations

# Longer absences are a reassignment, not a delegation.
MAX_DELEGATION = timedelta(days=180)


class DelegationService:
    def __init__(self, session: AsyncSession, *, audit: AuditClient) -> None:
        self._repo = ReviewRepository(session)
        self._audit = audit

    async def create(self, data: DelegationIn, principal: Principal) -> DelegationOut:
        now = utcnow()
        if not principal.has_any(*REVIEW_ROLES):
            raise Forbidden("only legal, compliance and medical reviewers delegate their reviews")
        delegate = data.delegate.strip()
        if not delegate or delegate in names_of(principal):
            raise Unprocessable("name someone other than yourself as the delegate")
        # A well-formed period that cannot be one (over already, or ending first) conflicts with the
        # clock rather than being malformed: 409, as a schedule in the past is for drafts.
        if data.ends_at <= data.starts_at:
            raise Conflict("a delegation ends after it starts", code="invalid_period")
        if data.ends_at <= now:
            raise Conflict("this delegation would already be over", code="invalid_period")
        if data.ends_at - data.starts_at > MAX_DELEGATION:
            raise Conflict(f"a delegation lasts at most {MAX_DELEGATION.days} days", code="invalid_period")
        for other in await self._repo.delegations_by(principal.user_id):
            if (
                other.cancelled_at is None
                and other.starts_at < data.ends_at
                and data.starts_at < other.ends_at
            ):
                raise Conflict(
                    f"your delegation to {other.delegate} overlaps this period; cancel it first",
                    code="overlapping_delegation",
                )
        delegation = ReviewDelegation(
            id=str(uuid.uuid4()),
            delegator_id=principal.user_id,
            delegator_username=principal.username,
            delegator_name=principal.name,
            delegate=delegate,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            created_at=now,
        )
        self._repo.add(delegation)
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="review.delegation_created",
            subject=f"user:{principal.user_id}",
            details={
                "delegation_id": delegation.id,
                "delegate": delegate,
                "starts_at": data.starts_at.isoformat(),
                "ends_at": data.ends_at.isoformat(),
            },
        )
        return _out(delegation, now)

    async def mine(self, principal: Principal) -> Delegations:
        """The caller's own delegations, and those that name them as the delegate."""
        now = utcnow()
        given = await self._repo.delegations_by(principal.user_id)
        received = [d for d in await self._repo.delegations_active(now) if d.delegate in names_of(principal)]
        return Delegations(given=[_out(d, now) for d in given], received=[_out(d, now) for d in received])

    async def cancel(self, delegation_id: str, principal: Principal) -> DelegationOut:
        now = utcnow()
        delegation = await self._repo.delegation(delegation_id)
        if delegation is None or delegation.delegator_id != principal.user_id:
            raise NotFound(f"you have no delegation {delegation_id}")
        if delegation.cancelled_at is None:
            delegation.cancelled_at = now
            await self._repo.flush()
            await self._audit.append(
                actor=principal,
                action="review.delegation_cancelled",
                subject=f"user:{principal.user_id}",
                details={"delegation_id": delegation.id, "delegate": delegation.delegate},
            )
        return _out(delegation, now)


def _out(delegation: ReviewDelegation, now: datetime) -> DelegationOut:
    return DelegationOut(
        id=delegation.id,
        delegator_id=delegation.delegator_id,
        delegator_name=delegation.delegator_name,
        delegate=delegation.delegate,
        starts_at=delegation.starts_at,
        ends_at=delegation.ends_at,
        cancelled_at=delegation.cancelled_at,
        active=delegation.active(now),
    )
