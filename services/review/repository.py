from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import release_connection
from services.review.models import (
    AllowListProposal,
    FindingOverride,
    OffboardedUser,
    PolicyVersion,
    ReviewDecision,
    ReviewDelegation,
    ReviewNotice,
    ReviewTask,
    Screening,
    ScreeningMark,
)
from services.review.screening.findings import BLOCK


class ReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def policy_version(self, version_id: str) -> PolicyVersion | None:
        return await self._session.get(PolicyVersion, version_id)

    async def screening(self, screening_id: str) -> Screening | None:
        return await self._session.get(Screening, screening_id)

    async def latest_screening(self, draft_id: str, version: int) -> Screening | None:
        statement = (
            select(Screening)
            .where(Screening.draft_id == draft_id, Screening.version == version)
            .order_by(Screening.created_at.desc())
            .limit(1)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def latest_draft_screening(self, draft_id: str) -> Screening | None:
        """The most recent screening of any version of a draft."""
        statement = (
            select(Screening)
            .where(Screening.draft_id == draft_id, Screening.version.is_not(None))
            .order_by(Screening.created_at.desc())
            .limit(1)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def task(self, draft_id: str, version: int, stage: str) -> ReviewTask | None:
        statement = select(ReviewTask).where(
            ReviewTask.draft_id == draft_id, ReviewTask.version == version, ReviewTask.stage == stage
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def open_tasks(self) -> Sequence[ReviewTask]:
        statement = select(ReviewTask).where(ReviewTask.status == "open").order_by(ReviewTask.opened_at)
        return (await self._session.execute(statement)).scalars().all()

    async def open_tasks_by_stage(self) -> dict[str, tuple[int, datetime]]:
        """stage -> (open tasks, when the oldest of them opened)."""
        statement = (
            select(ReviewTask.stage, func.count(), func.min(ReviewTask.opened_at))
            .where(ReviewTask.status == "open")
            .group_by(ReviewTask.stage)
        )
        rows = (await self._session.execute(statement)).tuples().all()
        return {stage: (count, oldest) for stage, count, oldest in rows}

    async def task_spans(
        self, since: datetime
    ) -> Sequence[tuple[str, str, datetime, datetime | None, datetime | None]]:
        """(stage, status, opened_at, closed_at, due_at) of every task still open at `since` or
        opened after it: what the weekly flow report counts."""
        statement = select(
            ReviewTask.stage, ReviewTask.status, ReviewTask.opened_at, ReviewTask.closed_at, ReviewTask.due_at
        ).where(or_(ReviewTask.closed_at.is_(None), ReviewTask.closed_at >= since))
        return (await self._session.execute(statement)).tuples().all()

    async def latest_decisions(self) -> Sequence[ReviewDecision]:
        """Each decider's most recent signed decision (the access review's "last decision")."""
        latest = (
            select(ReviewDecision.decider_id, func.max(ReviewDecision.decided_at).label("at"))
            .group_by(ReviewDecision.decider_id)
            .subquery()
        )
        statement = select(ReviewDecision).join(
            latest,
            (ReviewDecision.decider_id == latest.c.decider_id) & (ReviewDecision.decided_at == latest.c.at),
        )
        rows = (await self._session.execute(statement)).scalars().all()
        return list({row.decider_id: row for row in rows}.values())  # one per decider, even on a tie

    async def escalations_since(self, since: datetime) -> Sequence[tuple[str, datetime]]:
        """(stage, created_at) of every escalation notice raised since `since`."""
        statement = select(ReviewNotice.stage, ReviewNotice.created_at).where(
            ReviewNotice.kind == "escalation", ReviewNotice.created_at >= since
        )
        return (await self._session.execute(statement)).tuples().all()

    async def close_tasks(self, draft_id: str, version: int, stages: list[str] | None, at: datetime) -> None:
        statement = (
            update(ReviewTask)
            .where(
                ReviewTask.draft_id == draft_id, ReviewTask.version == version, ReviewTask.status == "open"
            )
            .values(status="closed", closed_at=at)
        )
        if stages is not None:
            statement = statement.where(ReviewTask.stage.in_(stages))
        await self._session.execute(statement)

    async def decision(self, decision_id: str) -> ReviewDecision | None:
        return await self._session.get(ReviewDecision, decision_id)

    async def stages_decided_by(self, decider_id: str) -> dict[str, set[str]]:
        """draft id -> the stages this person has decided on it."""
        statement = select(ReviewDecision.draft_id, ReviewDecision.stage).where(
            ReviewDecision.decider_id == decider_id
        )
        decided: dict[str, set[str]] = {}
        for draft_id, stage in (await self._session.execute(statement)).all():
            decided.setdefault(draft_id, set()).add(stage)
        return decided

    async def open_tasks_for(self, draft_id: str) -> Sequence[ReviewTask]:
        statement = (
            select(ReviewTask)
            .where(ReviewTask.draft_id == draft_id, ReviewTask.status == "open")
            .order_by(ReviewTask.opened_at)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def overrides(self, screening_id: str) -> Sequence[FindingOverride]:
        statement = (
            select(FindingOverride)
            .where(FindingOverride.screening_id == screening_id)
            .order_by(FindingOverride.finding_index)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def tasks_for_version(self, draft_id: str, version: int) -> Sequence[ReviewTask]:
        statement = select(ReviewTask).where(ReviewTask.draft_id == draft_id, ReviewTask.version == version)
        return (await self._session.execute(statement)).scalars().all()

    async def tasks_for_draft(self, draft_id: str) -> Sequence[ReviewTask]:
        statement = select(ReviewTask).where(ReviewTask.draft_id == draft_id)
        return (await self._session.execute(statement)).scalars().all()

    async def unresolved_blocking(self, screening_id: str) -> int:
        """Blocking findings of a screening that no compliance override has cleared."""
        screening = await self.screening(screening_id) if screening_id else None
        if screening is None:
            return 0
        overridden = {o.finding_index for o in await self.overrides(screening_id)}
        return sum(
            1
            for index, finding in enumerate(screening.findings)
            if finding.get("severity") == BLOCK and index not in overridden
        )

    async def drafts_approved_by(self, decider_id: str) -> list[str]:
        statement = (
            select(ReviewDecision.draft_id)
            .where(ReviewDecision.decider_id == decider_id, ReviewDecision.decision == "approve")
            .distinct()
        )
        return sorted((await self._session.execute(statement)).scalars().all())

    async def offboarded(self, user_ids: Sequence[str]) -> set[tuple[str, datetime]]:
        """(user, deactivated_at) of each of these users whose offboarding is complete."""
        statement = select(OffboardedUser.user_id, OffboardedUser.deactivated_at).where(
            OffboardedUser.user_id.in_(list(user_ids))
        )
        return {(user_id, at) for user_id, at in (await self._session.execute(statement)).all()}

    # --- reviewers' feedback on screenings ------------------------------------------------------

    async def marks_for_draft(self, draft_id: str) -> Sequence[ScreeningMark]:
        statement = (
            select(ScreeningMark)
            .where(ScreeningMark.draft_id == draft_id)
            .order_by(ScreeningMark.created_at, ScreeningMark.id)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def all_marks(self) -> Sequence[ScreeningMark]:
        statement = select(ScreeningMark).order_by(ScreeningMark.created_at, ScreeningMark.id)
        return (await self._session.execute(statement)).scalars().all()

    async def marks_by_id(self, mark_ids: Sequence[str]) -> dict[str, ScreeningMark]:
        statement = select(ScreeningMark).where(ScreeningMark.id.in_(list(mark_ids)))
        return {m.id: m for m in (await self._session.execute(statement)).scalars().all()}

    async def screenings(self, screening_ids: Sequence[str]) -> dict[str, Screening]:
        statement = select(Screening).where(Screening.id.in_(list(screening_ids)))
        return {s.id: s for s in (await self._session.execute(statement)).scalars().all()}

    async def proposal(self, proposal_id: str) -> AllowListProposal | None:
        return await self._session.get(AllowListProposal, proposal_id)

    async def proposals(self, status: str | None = None) -> Sequence[AllowListProposal]:
        statement = select(AllowListProposal).order_by(AllowListProposal.created_at, AllowListProposal.id)
        if status is not None:
            statement = statement.where(AllowListProposal.status == status)
        return (await self._session.execute(statement)).scalars().all()

    async def proposals_for_marks(self, mark_ids: Sequence[str]) -> dict[str, AllowListProposal]:
        statement = select(AllowListProposal).where(AllowListProposal.mark_id.in_(list(mark_ids)))
        return {p.mark_id: p for p in (await self._session.execute(statement)).scalars().all()}

    async def approved_allow_list(self) -> list[tuple[str, str]]:
        """(kind, value) of every approved proposal, oldest first."""
        statement = (
            select(AllowListProposal.kind, AllowListProposal.value)
            .where(AllowListProposal.status == "approved")
            .order_by(AllowListProposal.decided_at, AllowListProposal.id)
        )
        return [(kind, value) for kind, value in (await self._session.execute(statement)).all()]

    # --- review SLAs: the notice outbox and delegations ------------------------------------------

    async def notice(self, key: str) -> ReviewNotice | None:
        statement = select(ReviewNotice).where(ReviewNotice.key == key)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def notice_count(self, draft_id: str, version: int, stage: str, kind: str) -> int:
        statement = select(func.count()).where(
            ReviewNotice.draft_id == draft_id,
            ReviewNotice.version == version,
            ReviewNotice.stage == stage,
            ReviewNotice.kind == kind,
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def notices_for(self, draft_ids: Sequence[str]) -> Sequence[ReviewNotice]:
        statement = (
            select(ReviewNotice)
            .where(ReviewNotice.draft_id.in_(list(draft_ids)))
            .order_by(ReviewNotice.created_at, ReviewNotice.id)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def approvals_of(self, draft_id: str, version: int, stage: str) -> Sequence[ReviewDecision]:
        statement = select(ReviewDecision).where(
            ReviewDecision.draft_id == draft_id,
            ReviewDecision.version == version,
            ReviewDecision.stage == stage,
            ReviewDecision.decision == "approve",
        )
        return (await self._session.execute(statement)).scalars().all()

    async def delegation(self, delegation_id: str) -> ReviewDelegation | None:
        return await self._session.get(ReviewDelegation, delegation_id)

    async def delegations_by(self, delegator_id: str) -> Sequence[ReviewDelegation]:
        statement = (
            select(ReviewDelegation)
            .where(ReviewDelegation.delegator_id == delegator_id)
            .order_by(ReviewDelegation.starts_at, ReviewDelegation.id)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def delegations_active(self, at: datetime) -> Sequence[ReviewDelegation]:
        """Every delegation in force at `at`."""
        statement = select(ReviewDelegation).where(
            ReviewDelegation.cancelled_at.is_(None),
            ReviewDelegation.starts_at <= at,
            ReviewDelegation.ends_at > at,
        )
        return (await self._session.execute(statement)).scalars().all()

    def add(
        self,
        item: PolicyVersion
        | Screening
        | ReviewTask
        | ReviewDecision
        | FindingOverride
        | OffboardedUser
        | ScreeningMark
        | AllowListProposal
        | ReviewNotice
        | ReviewDelegation,
    ) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()

    async def remove(self, items: Sequence[FindingOverride]) -> None:
        for item in items:
            await self._session.delete(item)
        await self._session.flush()

    async def release_connection(self) -> None:
        """Before awaiting Temporal or another service: see services/kit/db.py."""
        await release_connection(self._session)
