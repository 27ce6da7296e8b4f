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
    """One reviewer at a time per stage of a draft; a claim lapses when its holder goes idle, and
    goes back to the queue once it is older than `expiry` however active its holder is."""

    def __init__(
        self,
        repo: UiRepository,
        *,
        idle: timedelta,
        expiry: timedelta | None = None,
        audit: AuditClient | None = None,
    ) -> None:
        self._repo = repo
        self._idle = idle
        self._expiry = expiry
        self._audit = audit

    def expired(self, claim: TaskClaim, now: datetime) -> bool:
        return self._expiry is not None and claim.claimed_at + self._expiry <= now

    def active(self, claim: TaskClaim | None, now: datetime) -> TaskClaim | None:
        if claim is None or self.expired(claim, now):
            return None
        return claim if claim.last_active_at + self._idle > now else None

    async def active_claims(
        self, draft_ids: Sequence[str], now: datetime
    ) -> dict[tuple[str, str], TaskClaim]:
        """The claims in force on these drafts; those past their expiry go back to the queue here."""
        claims = await self._repo.claims(draft_ids)
        await self._return_expired([c for c in claims if self.expired(c, now)], now)
        return {(c.draft_id, c.stage): c for c in claims if self.active(c, now) is not None}

    async def _return_expired(self, claims: Sequence[TaskClaim], now: datetime) -> None:
        """Delete claims past their expiry, each an audit event (without one nothing is deleted)."""
        for claim in claims:
            if self._audit is not None:
                await self._audit.append(
                    actor="system:review",
                    action="review.claim_expired",
                    subject=f"draft:{claim.draft_id}",
                    details={
                        "stage": claim.stage,
                        "holder_id": claim.holder_id,
                        "claimed_at": claim.claimed_at.isoformat(),
                        "expired_at": (claim.claimed_at + self._expiry).isoformat() if self._expiry else None,
                    },
                    idempotency_key=f"claim-expired:{claim.id}:{claim.claimed_at.isoformat()}",
                )
            await self._repo.delete_claim(claim)
        if claims:
            await self._repo.flush()

    async def claim(self, draft_id: str, stage: str, principal: Principal, now: datetime) -> TaskClaim:
        existing = await self._repo.claim(draft_id, stage, for_update=True)
        if existing is not None and self.expired(existing, now):
            await self._return_expired([existing], now)
            existing = None
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
