"""Claims on review tasks and the comment thread of a draft."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from services.kit.audit_client import AuditClient
from services.kit.errors import Conflict, Forbidden, Unprocessable
from services.kit.tokens import Principal
from services.review.ui.models import DraftComment, TaskClaim
from services.review.ui.repository import UiRepository

MAX_COMMENT_CHARS = 4000


class ClaimService:
    """One reviewer at a time per stage of a draft; a claim lapses when its holder goes idle."""

    def __init__(self, repo: UiRepository, *, idle: timedelta) -> None:
        self._repo = repo
        self._idle = idle

    def active(self, claim: TaskClaim | None, now: datetime) -> TaskClaim | None:
        return claim if claim is not None and claim.last_active_at + self._idle > now else None

    async def active_claims(
        self, draft_ids: Sequence[str], now: datetime
    ) -> dict[tuple[str, str], TaskClaim]:
        return {
            (c.draft_id, c.stage): c
            for c in await self._repo.claims(draft_ids)
            if self.active(c, now) is not None
        }

    async def claim(self, draft_id: str, stage: str, principal: Principal, now: datetime) -> TaskClaim:
        existing = await self._repo.claim(draft_id, stage, for_update=True)
        held = self.active(existing, now)
        if held is not None and held.holder_id != principal.user_id:
            raise Conflict(f"{held.holder_name} is working on this stage already", code="claimed")
        if existing is None:
            existing = TaskClaim(
                id=str(uuid.uuid4()),
                draft_id=draft_id,
                stage=stage,
                holder_id=principal.user_id,
                holder_name=principal.name,
                claimed_at=now,
                last_active_at=now,
            )
            self._repo.add(existing)
        elif held is None or existing.holder_id != principal.user_id:
            existing.holder_id, existing.holder_name, existing.claimed_at = (
                principal.user_id,
                principal.name,
                now,
            )
        existing.last_active_at = now
        await self._repo.flush()
        return existing

    async def release(self, draft_id: str, stage: str, principal: Principal, now: datetime) -> None:
        existing = await self._repo.claim(draft_id, stage, for_update=True)
        if existing is None:
            return
        if self.active(existing, now) is not None and existing.holder_id != principal.user_id:
            raise Forbidden(f"only {existing.holder_name}, who holds this claim, can release it")
        await self._repo.delete_claim(existing)
        await self._repo.flush()

    async def held_by_other(
        self, draft_id: str, stage: str, principal: Principal, now: datetime
    ) -> TaskClaim | None:
        held = self.active(await self._repo.claim(draft_id, stage), now)
        return held if held is not None and held.holder_id != principal.user_id else None

    async def touch(self, draft_id: str, principal: Principal, now: datetime) -> None:
        """The holder is working on the draft: their claims on it stay alive."""
        for claim in await self._repo.claims([draft_id]):
            if claim.holder_id == principal.user_id and self.active(claim, now) is not None:
                claim.last_active_at = now
        await self._repo.flush()


class CommentService:
    def __init__(self, repo: UiRepository, *, audit: AuditClient) -> None:
        self._repo = repo
        self._audit = audit

    async def thread(self, draft_id: str) -> Sequence[DraftComment]:
        return await self._repo.comments(draft_id)

    async def add(
        self, draft_id: str, version: int, body: str, principal: Principal, now: datetime
    ) -> DraftComment:
        """Keep a comment and record it in the audit trail; without the audit event nothing is kept.

        The trail gets the comment's id and the SHA-256 of its text, never the text: a comment may
        name a patient, and the append-only trail can never forget it, while this database can
        (the digest still proves which text the event was about)."""
        text = body.strip()
        if not text:
            raise Unprocessable("a comment needs some text")
        if len(text) > MAX_COMMENT_CHARS:
            raise Unprocessable(f"a comment is at most {MAX_COMMENT_CHARS} characters")
        comment = DraftComment(
            id=str(uuid.uuid4()),
            draft_id=draft_id,
            version=version,
            author_id=principal.user_id,
            author_name=principal.name,
            body=text,
            created_at=now,
        )
        self._repo.add(comment)
        await self._repo.flush()
        await self._audit.append(
            actor=principal,
            action="draft.commented",
            subject=f"draft:{draft_id}",
            details={
                "comment_id": comment.id,
                "version": version,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            },
            idempotency_key=f"review:comment:{comment.id}",
        )
        return comment
