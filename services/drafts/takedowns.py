"""Takedown tasks: a published post whose consent was revoked must come down; the publisher role
(or an admin) takes it down and closes the task. Every step is audited."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.drafts.models import TakedownTask
from services.drafts.repository import DraftRepository
from services.drafts.schemas import TakedownOut
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.tokens import Principal

TAKEDOWN_ROLES = ("publisher", "admin")
TAKEDOWN_REQUIRED = "takedown_required"
TAKEN_DOWN = "taken_down"
TAKEDOWN_FAILED = "takedown_failed"
# Statuses a live post's draft can be in; the publisher reports what became of it from these.
LIVE_STATUSES = ("published", TAKEDOWN_REQUIRED, TAKEDOWN_FAILED)


class TakedownService:
    def __init__(self, session: AsyncSession, *, audit: AuditRecorder) -> None:
        self._drafts = DraftRepository(session)
        self._audit = audit

    async def require(
        self, draft_id: str, consent_id: str, why: str, principal: Principal, now: datetime
    ) -> TakedownTask:
        """A published post must come down (its consent was revoked): its task, opened once, and the
        draft marked `takedown_required`; audited."""
        locked = await self._drafts.get(draft_id, for_update=True)
        assert locked is not None
        task = await self._drafts.get_takedown_for(draft_id, consent_id)
        if task is None:
            task = TakedownTask(
                id=str(uuid.uuid4()),
                draft_id=draft_id,
                version=locked.current_version,
                consent_id=consent_id,
                reason=why,
                status="open",
                created_at=now,
                completed_at=None,
                completed_by=None,
                note="",
            )
            self._drafts.add(task)
        # The workflow has finished once a post is published: the drafts service records the state.
        locked.status, locked.state_note, locked.updated_at = TAKEDOWN_REQUIRED, why, now
        await self._drafts.flush()
        await self._audit.append(
            actor=principal,
            action="post.takedown_required",
            subject=f"draft:{draft_id}",
            details={
                "version": task.version,
                "consent_id": consent_id,
                "reason": why,
                "takedown_id": task.id,
            },
        )
        return task

    async def record_outcome(self, draft_id: str, *, status: str, reason: str, cause: str) -> str:
        """The publisher took the post down from every network (`taken_down`: open tasks close) or
        could not (`takedown_failed`, with why): the draft shows it; audited. The status before."""
        draft = await self._drafts.get(draft_id, for_update=True)
        if draft is None:
            raise NotFound(f"draft {draft_id} does not exist")
        before = draft.status
        if before not in (*LIVE_STATUSES, TAKEN_DOWN):
            raise Conflict(f"draft {draft_id} is {before!r}, not a published post", code="not_published")
        now = utcnow()
        draft.status, draft.state_note, draft.updated_at = status, reason, now
        closed = []
        if status == TAKEN_DOWN:
            for task in await self._drafts.takedowns(status="open", draft_id=draft_id):
                task.status, task.completed_at, task.completed_by = "done", now, "service:publisher"
                task.note = "removed from every network by the publisher"
                closed.append(task.id)
        await self._drafts.flush()
        if before != status:
            await self._audit.append(
                actor="service:publisher",
                action=f"draft.{status}",
                subject=f"draft:{draft_id}",
                details={"status_before": before, "reason": reason, "cause": cause, "takedown_ids": closed},
            )
        return before

    async def takedowns(
        self, principal: Principal, *, status: str | None, draft_id: str | None
    ) -> list[TakedownOut]:
        if not principal.has_any(*TAKEDOWN_ROLES):
            raise Forbidden("takedown tasks are for the publisher role and admins")
        rows = await self._drafts.takedowns(status=status, draft_id=draft_id)
        return [_takedown_out(t) for t in rows]

    async def complete_takedown(self, task_id: str, note: str, principal: Principal) -> TakedownOut:
        if not principal.has_any(*TAKEDOWN_ROLES):
            raise Forbidden("takedown tasks are for the publisher role and admins")
        task = await self._drafts.get_takedown(task_id, for_update=True)
        if task is None:
            raise NotFound(f"takedown task {task_id} does not exist")
        if task.status == "done":
            raise Conflict("the takedown task is already done", code="already_done")
        task.status, task.completed_at, task.completed_by, task.note = (
            "done",
            utcnow(),
            principal.user_id,
            note,
        )
        await self._drafts.flush()
        await self._audit.append(
            actor=principal,
            action="post.taken_down",
            subject=f"draft:{task.draft_id}",
            details={
                "takedown_id": task.id,
                "version": task.version,
                "consent_id": task.consent_id,
                "note": note,
            },
        )
        return _takedown_out(task)


def _takedown_out(task: TakedownTask) -> TakedownOut:
    return TakedownOut(
        id=task.id,
        draft_id=task.draft_id,
        version=task.version,
        consent_id=task.consent_id,
        reason=task.reason,
        status=task.status,
        created_at=task.created_at,
        completed_at=task.completed_at,
        completed_by=task.completed_by,
        note=task.note,
    )
