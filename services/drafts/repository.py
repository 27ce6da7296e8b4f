from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.drafts.models import Draft, DraftVersion


class DraftRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, draft_id: str, *, for_update: bool = False) -> Draft | None:
        statement = select(Draft).where(Draft.id == draft_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_version(self, draft_id: str, version: int) -> DraftVersion | None:
        statement = select(DraftVersion).where(
            DraftVersion.draft_id == draft_id, DraftVersion.version == version
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def versions(self, draft_id: str) -> Sequence[DraftVersion]:
        statement = (
            select(DraftVersion).where(DraftVersion.draft_id == draft_id).order_by(DraftVersion.version)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def list(self, *, author_id: str | None, limit: int = 200) -> Sequence[Draft]:
        statement = select(Draft).order_by(Draft.updated_at.desc()).limit(limit)
        if author_id is not None:
            statement = statement.where(Draft.author_id == author_id)
        return (await self._session.execute(statement)).scalars().all()

    async def current_versions(self, drafts: Sequence[Draft]) -> dict[str, DraftVersion]:
        if not drafts:
            return {}
        wanted = {(d.id, d.current_version) for d in drafts}
        statement = select(DraftVersion).where(DraftVersion.draft_id.in_([d.id for d in drafts]))
        rows = (await self._session.execute(statement)).scalars().all()
        return {v.draft_id: v for v in rows if (v.draft_id, v.version) in wanted}

    def add(self, item: Draft | DraftVersion) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()
