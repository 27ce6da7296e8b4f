"""Every query of the crisis template tables."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import release_connection
from services.review.crisis_template_models import ACTIVE, SUPERSEDED, CrisisTemplate, CrisisTemplateUse


class CrisisTemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: CrisisTemplate | CrisisTemplateUse) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, row_id: str) -> CrisisTemplate | None:
        return await self._session.get(CrisisTemplate, row_id)

    async def of_version(self, template_id: str, version: int) -> CrisisTemplate | None:
        query = select(CrisisTemplate).where(
            CrisisTemplate.template_id == template_id, CrisisTemplate.version == version
        )
        return (await self._session.execute(query)).scalar_one_or_none()

    async def supersede_older(self, template_id: str, version: int) -> None:
        """A later approved version replaces the earlier ones of the same template."""
        await self._session.execute(
            update(CrisisTemplate)
            .where(CrisisTemplate.template_id == template_id, CrisisTemplate.version < version)
            .values(status=SUPERSEDED)
        )

    async def all(self, *, active_only: bool = False, limit: int = 500) -> Sequence[CrisisTemplate]:
        query = select(CrisisTemplate).order_by(CrisisTemplate.approved_at.desc()).limit(limit)
        if active_only:
            query = query.where(CrisisTemplate.status == ACTIVE)
        return (await self._session.execute(query)).scalars().all()

    async def use(self, use_id: str, *, for_update: bool = False) -> CrisisTemplateUse | None:
        query = select(CrisisTemplateUse).where(CrisisTemplateUse.id == use_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def uses(self, template_row_ids: Sequence[str], *, limit: int = 500) -> Sequence[CrisisTemplateUse]:
        if not template_row_ids:
            return []
        query = (
            select(CrisisTemplateUse)
            .where(CrisisTemplateUse.template_row_id.in_(list(template_row_ids)))
            .order_by(CrisisTemplateUse.used_at.desc())
            .limit(limit)
        )
        return (await self._session.execute(query)).scalars().all()

    async def release_connection(self) -> None:
        """Before awaiting Temporal or another service: see services/kit/db.py."""
        await release_connection(self._session)
