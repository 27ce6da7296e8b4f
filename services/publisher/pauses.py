"""Pause all publishing, or one account's, at once; resume only by an explicit, audited action.

While a pause covers any of a post's channels, the publish activity posts nothing and answers
`PublishingPaused`; the approval workflow then holds the post (status `held`) and waits for the
resume, which signals every held post's workflow. Scheduled posts whose time comes during a pause
hold the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import Conflict
from services.kit.tokens import Principal
from services.publisher.models import HeldPost, PublishingPause
from services.publisher.repository import PauseRepository

ALL = "all"
PAUSE_ROLES = ("compliance", "admin")


class PauseService:
    def __init__(self, session: AsyncSession, *, audit: AuditRecorder) -> None:
        self._repository = PauseRepository(session)
        self._audit = audit

    async def active(self) -> Sequence[PublishingPause]:
        return await self._repository.active()

    async def held(self) -> Sequence[HeldPost]:
        return await self._repository.held()

    async def blocking(self, channels: Sequence[str]) -> Sequence[PublishingPause]:
        """The active pauses that stop a post to these channels (all publishing, or one of them)."""
        return await self._repository.active([ALL, *channels])

    async def pause(self, scope: str, reason: str, principal: Principal) -> PublishingPause:
        if await self._repository.active([scope]):
            raise Conflict(
                "publishing is already paused" if scope == ALL else f"{scope!r} is already paused",
                code="already_paused",
            )
        pause = PublishingPause(
            id=str(uuid.uuid4()),
            scope=scope,
            reason=reason,
            paused_by=principal.user_id,
            paused_at=utcnow(),
            resumed_by=None,
            resumed_at=None,
            resume_reason="",
        )
        self._repository.add(pause)
        await self._repository.flush()
        await self._audit.append(
            actor=principal,
            action="publishing.paused",
            subject=f"publishing:{scope}",
            details={"scope": scope, "reason": reason, "pause_id": pause.id},
        )
        return pause

    async def resume(self, scope: str, reason: str, principal: Principal) -> list[HeldPost]:
        """Lift the pause; the held posts it no longer blocks, for the caller to wake."""
        active = await self._repository.active([scope])
        if not active:
            raise Conflict(
                "publishing is not paused" if scope == ALL else f"{scope!r} is not paused", code="not_paused"
            )
        now = utcnow()
        for pause in active:
            pause.resumed_by, pause.resumed_at, pause.resume_reason = principal.user_id, now, reason
        await self._repository.flush()
        await self._audit.append(
            actor=principal,
            action="publishing.resumed",
            subject=f"publishing:{scope}",
            details={"scope": scope, "reason": reason, "pause_ids": [p.id for p in active]},
        )
        still = {p.scope for p in await self._repository.active()}
        return [
            held
            for held in await self._repository.held()
            if ALL not in still and not still.intersection(held.scopes)
        ]
