from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import PENDING, PUBLISHED, Publication


class PublicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, publication_id: str) -> Publication | None:
        return await self._session.get(Publication, publication_id, populate_existing=True)

    async def get_for(self, draft_id: str, version: int, channel: str) -> Publication | None:
        statement = select(Publication).where(
            Publication.draft_id == draft_id,
            Publication.version == version,
            Publication.channel == channel,
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list_for_draft(self, draft_id: str) -> Sequence[Publication]:
        statement = (
            select(Publication)
            .where(Publication.draft_id == draft_id)
            .order_by(Publication.version, Publication.channel)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def mark_published(self, publication_id: str, *, external_id: str, at: datetime) -> None:
        # Only a pending row moves: a second marker (a concurrent retry) changes nothing.
        statement = (
            update(Publication)
            .where(Publication.id == publication_id, Publication.status == PENDING)
            .values(status=PUBLISHED, external_id=external_id, published_at=at)
        )
        await self._session.execute(statement)

    def add(self, publication: Publication) -> None:
        self._session.add(publication)

    async def flush(self) -> None:
        await self._session.flush()
