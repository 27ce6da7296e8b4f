"""Offboarding on the review side: what a deactivated reviewer leaves behind is undone.

The review service watches the gateway's revocation list (services/kit/auth.py; refreshed every
CLEARPOST_REVOCATION_REFRESH_SECONDS). For each newly listed user it
- ends their review-UI sessions (the gateway has already revoked their refresh tokens),
- releases their claims, so the tasks are free for colleagues again,
- sends `void_approvals` to every draft they approved whose workflow still runs: the stage shows
  `voided` and re-opens, a scheduled post goes back to review, the workflow records why,
and records each effect as an audit event. A user is done once every workflow has answered
(accepted, or refused because there is nothing left to void); anything else is retried at the
next refresh, so a Temporal or audit outage delays offboarding but never skips it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from services.kit.audit_client import AuditClient
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.kit.errors import UpstreamUnavailable
from services.review.models import OffboardedUser
from services.review.repository import ReviewRepository
from services.review.ui.repository import UiRepository
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import VoidApprovals

log = logging.getLogger("clearpost.review.offboarding")
ACTOR = "system:review-offboarding"


class Offboarding:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditClient,
        temporal: Client | None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._approvals = ApprovalWorkflowClient(temporal)
        self._lock = asyncio.Lock()

    async def on_revocations(self, revoked: dict[str, datetime]) -> None:
        """Offboard every listed user not offboarded yet for this deactivation (a revocation listener)."""
        async with self._lock:  # one pass at a time; a pass that overlaps the next refresh waits
            done = await self._done(revoked)
            for user_id, deactivated_at in revoked.items():
                if (user_id, deactivated_at) not in done:
                    await self.offboard(user_id, deactivated_at)

    async def _done(self, revoked: dict[str, datetime]) -> set[tuple[str, datetime]]:
        if not revoked:
            return set()
        async with session_scope(self._sessionmaker) as session:
            return await ReviewRepository(session).offboarded(list(revoked))

    async def offboard(self, user_id: str, deactivated_at: datetime) -> bool:
        """Undo what the user leaves behind; True when complete (False: retried next time)."""
        await self._end_sessions(user_id)
        await self._release_claims(user_id)
        complete, voided = await self._void_approvals(user_id, deactivated_at)
        if not complete:
            return False
        async with session_scope(self._sessionmaker) as session:
            ReviewRepository(session).add(
                OffboardedUser(
                    user_id=user_id,
                    deactivated_at=deactivated_at,
                    completed_at=utcnow(),
                    voided_drafts=voided,
                )
            )
        await self._audit.append(
            actor=ACTOR,
            action="review.offboarded",
            subject=f"user:{user_id}",
            details={"deactivated_at": deactivated_at.isoformat(), "voided_drafts": voided},
            idempotency_key=f"review:offboarded:{user_id}:{deactivated_at.isoformat()}",
        )
        return True

    async def _end_sessions(self, user_id: str) -> None:
        async with session_scope(self._sessionmaker) as session:
            ended = await UiRepository(session).delete_sessions_of(user_id)
            if ended:
                # Audited inside the unit of work: if the audit log refuses, the sessions stay and
                # the next pass tries again (they are refused meanwhile: the user is revoked).
                await self._audit.append(
                    actor=ACTOR,
                    action="review.sessions_ended",
                    subject=f"user:{user_id}",
                    details={"sessions": ended, "reason": "user deactivated"},
                )

    async def _release_claims(self, user_id: str) -> None:
        async with session_scope(self._sessionmaker) as session:
            repo = UiRepository(session)
            claims = await repo.claims_held_by(user_id)
            if not claims:
                return
            released = [{"draft_id": c.draft_id, "stage": c.stage} for c in claims]
            for claim in claims:
                await repo.delete_claim(claim)
            await repo.flush()
            await self._audit.append(
                actor=ACTOR,
                action="review.claims_released",
                subject=f"user:{user_id}",
                details={"claims": released, "reason": "user deactivated"},
            )

    async def _approved_drafts(self, user_id: str) -> list[str]:
        async with session_scope(self._sessionmaker) as session:
            return await ReviewRepository(session).drafts_approved_by(user_id)

    async def _void_approvals(self, user_id: str, deactivated_at: datetime) -> tuple[bool, list[str]]:
        drafts = await self._approved_drafts(user_id)
        if not drafts:
            return True, []
        if not self._approvals.connected:
            log.warning("cannot void approvals of %s: not connected to Temporal", user_id)
            return False, []
        reason = f"the reviewer's account was deactivated at {deactivated_at.isoformat()}"
        complete, voided = True, []
        for draft_id in drafts:
            try:
                result = await self._approvals.void_approvals(draft_id, VoidApprovals(user_id, reason))
            except UpstreamUnavailable as exc:
                log.warning(
                    "voiding %s's approval of %s failed, retrying later: %s", user_id, draft_id, exc.detail
                )
                complete = False
                continue
            if result is None:
                continue  # refused (final, being published, nothing of theirs left) or finished
            voided.append(draft_id)
            log.info("voided %s's approval of %s (stages %s)", user_id, draft_id, result.stages)
        return complete, voided
