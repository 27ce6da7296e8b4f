"""Every query of the crisis lane's tables."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import release_connection
from services.review.crisis_models import OPEN_STATUSES, CrisisApproval, CrisisPost


class CrisisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: CrisisPost | CrisisApproval) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, crisis_id: str, *, for_update: bool = False) -> CrisisPost | None:
        query = select(CrisisPost).where(CrisisPost.id == crisis_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def open_for_draft(self, draft_id: str) -> CrisisPost | None:
        query = select(CrisisPost).where(
            CrisisPost.draft_id == draft_id, CrisisPost.status.in_(OPEN_STATUSES)
        )
        return (await self._session.execute(query.limit(1))).scalar_one_or_none()

    async def all(self, *, limit: int = 500) -> Sequence[CrisisPost]:
        query = select(CrisisPost).order_by(CrisisPost.started_at.desc()).limit(limit)
        return (await self._session.execute(query)).scalars().all()

    async def approvals(self, crisis_ids: Sequence[str]) -> Sequence[CrisisApproval]:
        if not crisis_ids:
            return []
        query = (
            select(CrisisApproval)
            .where(CrisisApproval.crisis_id.in_(list(crisis_ids)))
            .order_by(CrisisApproval.signed_at)
        )
        return (await self._session.execute(query)).scalars().all()

    async def release_connection(self) -> None:
        """Before awaiting Temporal or another service: see services/kit/db.py."""
        await release_connection(self._session)
