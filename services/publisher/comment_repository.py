"""Every query on comments and their cursors (the publisher's tables)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import PUBLISHED, Comment, CommentCursor, Publication


class CommentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def live_publications(self, account: str) -> Sequence[Publication]:
        """The account's publications that are on their network now, oldest first."""
        rows = await self._session.scalars(
            select(Publication)
            .where(
                Publication.channel == account,
                Publication.status == PUBLISHED,
                Publication.external_id.is_not(None),
                Publication.network.is_not(None),
            )
            .order_by(Publication.published_at, Publication.id)
        )
        return rows.all()

    async def cursor(self, publication_id: str) -> str | None:
        row = await self._session.get(CommentCursor, publication_id, populate_existing=True)
        return row.cursor if row is not None else None

    async def set_cursor(self, publication_id: str, cursor: str | None, *, now: datetime) -> None:
        row = await self._session.get(CommentCursor, publication_id, with_for_update=True)
        if row is None:
            self._session.add(CommentCursor(publication_id=publication_id, cursor=cursor, read_at=now))
        else:
            row.cursor, row.read_at = cursor, now
        await self._session.flush()

    async def known_ids(self, publication_id: str, external_ids: Sequence[str]) -> set[str]:
        if not external_ids:
            return set()
        rows = await self._session.scalars(
            select(Comment.external_id).where(
                Comment.publication_id == publication_id, Comment.external_id.in_(list(external_ids))
            )
        )
        return set(rows.all())

    async def unscreened(self, account: str, *, limit: int) -> Sequence[Comment]:
        rows = await self._session.scalars(
            select(Comment)
            .where(Comment.account == account, Comment.screened_at.is_(None))
            .order_by(Comment.read_at, Comment.id)
            .limit(limit)
        )
        return rows.all()

    def add(self, comment: Comment) -> None:
        self._session.add(comment)

    async def get(self, comment_id: str, *, for_update: bool = False) -> Comment | None:
        return await self._session.get(
            Comment, comment_id, with_for_update=for_update, populate_existing=True
        )

    async def listing(
        self, *, account: str | None = None, category: str | None = None, limit: int = 200
    ) -> Sequence[Comment]:
        """The newest screened comments (with a finding, when `category` is "any")."""
        query = (
            select(Comment)
            .where(Comment.screened_at.is_not(None))
            .order_by(Comment.read_at.desc(), Comment.id)
            .limit(limit if category is None else limit * 5)
        )
        if account is not None:
            query = query.where(Comment.account == account)
        rows = (await self._session.scalars(query)).all()
        if category is None:
            return rows
        # Categories are a JSON list: filtered here, the same on SQLite and PostgreSQL.
        wanted = [r for r in rows if r.categories and (category == "any" or category in r.categories)]
        return wanted[:limit]

    async def flush(self) -> None:
        await self._session.flush()
