"""The publisher's comment activities: one poll of an account (`ingest_comments`) and the review
service's screening recorded with the comment (`record_comment_screening`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.kit.db import session_scope
from services.publisher.comment_ingest import CommentIngest
from services.publisher.comment_repository import CommentRepository
from services.publisher.comments import CommentService
from workflows.comment_contracts import (
    INGEST_COMMENTS,
    RECORD_COMMENT_SCREENING,
    CommentIngestInput,
    CommentIngestResult,
    CommentScreeningRecord,
    UnscreenedComment,
)

MAX_PER_ROUND = 200  # comments handed to screening per round; the rest wait for the next one


class CommentActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        ingest: CommentIngest,
        comments: Callable[[AsyncSession], CommentService],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ingest = ingest
        self._comments = comments

    @activity.defn(name=INGEST_COMMENTS)
    async def ingest_comments(self, request: CommentIngestInput) -> CommentIngestResult:
        round_ = await self._ingest.read_account(request.account)
        for where, why in round_.unreadable.items():
            activity.logger.warning("comments not read", extra={"where": where, "why": why})
        # Every comment still unscreened, not only this round's: a crash after the read and before
        # the screening was recorded must not leave one unscreened for good.
        async with self._sessionmaker() as session:
            pending = await CommentRepository(session).unscreened(request.account, limit=MAX_PER_ROUND)
        return CommentIngestResult(
            comments=[UnscreenedComment(c.id, c.network, c.read_at.isoformat()) for c in pending],
            retry_at=round_.retry_at.isoformat() if round_.retry_at else "",
        )

    @activity.defn(name=RECORD_COMMENT_SCREENING)
    async def record_comment_screening(self, record: CommentScreeningRecord) -> None:
        async with session_scope(self._sessionmaker) as session:
            await self._comments(session).record_screening(
                record.comment_id, record.screening_id, record.categories
            )
