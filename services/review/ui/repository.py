"""Every query of the review UI's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.ui.models import DraftComment, TaskClaim, UiSession


class UiRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def ui_session(self, session_id: str) -> UiSession | None:
        return await self._session.get(UiSession, session_id)

    async def delete_ui_session(self, session_id: str) -> None:
        await self._session.execute(delete(UiSession).where(UiSession.id == session_id))

    async def delete_idle_sessions(self, seen_before: datetime) -> None:
        await self._session.execute(delete(UiSession).where(UiSession.last_seen_at < seen_before))

    async def claim(self, draft_id: str, stage: str, *, for_update: bool = False) -> TaskClaim | None:
        statement = select(TaskClaim).where(TaskClaim.draft_id == draft_id, TaskClaim.stage == stage)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def claims(self, draft_ids: Sequence[str]) -> Sequence[TaskClaim]:
        if not draft_ids:
            return []
        statement = select(TaskClaim).where(TaskClaim.draft_id.in_(list(draft_ids)))
        return (await self._session.execute(statement)).scalars().all()

    async def delete_sessions_of(self, user_id: str) -> int:
        """End every UI session of the user; how many there were."""
        result = await self._session.execute(delete(UiSession).where(UiSession.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)

    async def claims_held_by(self, user_id: str) -> Sequence[TaskClaim]:
        statement = select(TaskClaim).where(TaskClaim.holder_id == user_id)
        return (await self._session.execute(statement)).scalars().all()

    async def delete_claim(self, claim: TaskClaim) -> None:
        await self._session.delete(claim)

    async def comments(self, draft_id: str) -> Sequence[DraftComment]:
        statement = (
            select(DraftComment).where(DraftComment.draft_id == draft_id).order_by(DraftComment.created_at)
        )
        return (await self._session.execute(statement)).scalars().all()

    def add(self, item: UiSession | TaskClaim | DraftComment) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()
