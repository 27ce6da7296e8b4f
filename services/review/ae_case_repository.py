"""Every query on comment screenings, adverse-event cases and their steps (and a case's notices
put in the review notice outbox)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.review.ae_case_models import AeCase, AeCaseEvent, CommentScreening
from services.review.models import ReviewNotice


class AeCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def screening_for(self, comment_id: str) -> CommentScreening | None:
        query = select(CommentScreening).where(CommentScreening.comment_id == comment_id)
        return (await self._session.scalars(query)).first()

    async def screening(self, screening_id: str) -> CommentScreening | None:
        return await self._session.get(CommentScreening, screening_id)

    async def screenings(self, *, limit: int) -> Sequence[CommentScreening]:
        rows = await self._session.scalars(
            select(CommentScreening)
            .order_by(CommentScreening.created_at.desc(), CommentScreening.id)
            .limit(limit)
        )
        return rows.all()

    async def screenings_of(self, comment_ids: Sequence[str]) -> Sequence[CommentScreening]:
        if not comment_ids:
            return []
        query = select(CommentScreening).where(CommentScreening.comment_id.in_(list(comment_ids)))
        return (await self._session.scalars(query)).all()

    async def cases_of(self, comment_ids: Sequence[str]) -> Sequence[AeCase]:
        if not comment_ids:
            return []
        query = select(AeCase).where(AeCase.comment_id.in_(list(comment_ids)))
        return (await self._session.scalars(query)).all()

    async def case_for(self, comment_id: str) -> AeCase | None:
        return (await self._session.scalars(select(AeCase).where(AeCase.comment_id == comment_id))).first()

    async def case(self, case_id: str, *, for_update: bool = False) -> AeCase | None:
        return await self._session.get(AeCase, case_id, with_for_update=for_update, populate_existing=True)

    async def cases(self, *, status: str | None = None, limit: int = 500) -> Sequence[AeCase]:
        query = select(AeCase).order_by(AeCase.day0, AeCase.id).limit(limit)
        if status is not None:
            query = query.where(AeCase.status == status)
        return (await self._session.scalars(query)).all()

    async def events(self, case_id: str) -> Sequence[AeCaseEvent]:
        rows = await self._session.scalars(
            select(AeCaseEvent).where(AeCaseEvent.case_id == case_id).order_by(AeCaseEvent.at, AeCaseEvent.id)
        )
        return rows.all()

    async def event_by_key(self, key: str) -> AeCaseEvent | None:
        return (await self._session.scalars(select(AeCaseEvent).where(AeCaseEvent.key == key))).first()

    def add(self, row: CommentScreening | AeCase | AeCaseEvent | ReviewNotice) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()
