"""The review service's comment activities: screen one comment (`kind: comment`), open its
adverse-event case, record a case clock's reminder or escalation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.kit.errors import Conflict, NotFound
from services.review.ae_case_models import CommentScreening
from services.review.ae_case_repository import AeCaseRepository
from services.review.ae_cases import AeCaseService, case_plan
from services.review.ae_elements import minimum_elements
from services.review.comments_client import CommentSource
from services.review.feedback import refresh_allow_list
from services.review.metrics import SCREENING_SECONDS
from services.review.policy import LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.screening.engine import Screener
from workflows.comment_contracts import (
    OPEN_AE_CASE,
    RECORD_CASE_CLOCK,
    SCREEN_COMMENT,
    AeCaseInput,
    AeCasePlan,
    CaseClockEvent,
    CommentScreeningResult,
    ScreenCommentInput,
)


class CommentActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        policy: LoadedPolicy,
        comments: CommentSource,
        audit: AuditRecorder,
        *,
        screener: Screener | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._policy = policy
        self._comments = comments
        self._audit = audit
        self._screener = screener or Screener(policy)
        self._clock = clock

    def cases(self, session: AsyncSession) -> AeCaseService:
        return AeCaseService(
            session, audit=self._audit, policy=self._policy.policy.pharmacovigilance, clock=self._clock
        )

    @activity.defn(name=SCREEN_COMMENT)
    async def screen_comment(self, request: ScreenCommentInput) -> CommentScreeningResult:
        async with self._sessionmaker() as session:
            done = await AeCaseRepository(session).screening_for(request.comment_id)
            if done is not None:  # a retry: the stored screening is the answer
                return CommentScreeningResult(request.comment_id, done.id, list(done.categories))
            await refresh_allow_list(ReviewRepository(session), self._screener)
        comment = await self._comments.comment(request.comment_id)
        text = str(comment["text"])
        with SCREENING_SECONDS.labels("comment").time():
            outcome = self._screener.screen(text, kind="comment")
        findings = [f.as_dict() for f in outcome.findings]
        screening = CommentScreening(
            id=str(uuid.uuid4()),
            comment_id=request.comment_id,
            network=str(comment["network"]),
            account=str(comment["account"]),
            draft_id=str(comment["draft_id"]),
            author=str(comment.get("author") or ""),
            url=comment.get("url"),
            read_at=datetime.fromisoformat(str(comment["read_at"])),
            policy_version=self._policy.version,
            categories=outcome.categories,
            products=outcome.products,
            drugs=outcome.drugs,
            findings=findings,
            elements=minimum_elements(
                author=str(comment.get("author") or ""),
                network=str(comment["network"]),
                text=text,
                findings=findings,
                products=outcome.products,
                drugs=outcome.drugs,
            ),
            created_at=self._clock(),
        )
        async with session_scope(self._sessionmaker) as session:
            AeCaseRepository(session).add(screening)
        return CommentScreeningResult(request.comment_id, screening.id, outcome.categories)

    @activity.defn(name=OPEN_AE_CASE)
    async def open_ae_case(self, request: AeCaseInput) -> AeCasePlan:
        try:
            async with session_scope(self._sessionmaker) as session:
                case = await self.cases(session).open(request.comment_id, request.screening_id)
                return case_plan(case)
        except (NotFound, Conflict) as exc:
            raise ApplicationError(exc.detail, type=type(exc).__name__, non_retryable=True) from exc

    @activity.defn(name=RECORD_CASE_CLOCK)
    async def record_case_clock(self, event: CaseClockEvent) -> None:
        async with session_scope(self._sessionmaker) as session:
            await self.cases(session).clock_passed(event.case_id, event.clock, event.kind)

    @property
    def all(self) -> list[Callable[..., object]]:
        return [self.screen_comment, self.open_ae_case, self.record_case_clock]
