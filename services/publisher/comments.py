"""Comments after they are read: their screening recorded, the moderation inbox's list, and the
one-click answer to PHI in public: hidden through the adapter where the network can hide
(Facebook, Instagram), otherwise flagged for deletion by the account owner. Every moderation is
audited; the text is opened only for the moderator's view and the review service's screening."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import Conflict, NotFound, UpstreamUnavailable
from services.kit.tokens import Principal
from services.publisher.accounts import AccountService
from services.publisher.channels import ChannelRejected, ChannelUnavailable
from services.publisher.comment_ingest import CommentSeal
from services.publisher.comment_repository import CommentRepository
from services.publisher.models import FLAGGED_FOR_DELETION, HIDDEN, Comment
from services.publisher.networks.base import CommentModerator, NetworkAdapter

MODERATOR_ROLES = ("publisher", "compliance", "admin")
# Answers a moderator may send privately, approved with the policy (docs/comments.md).
PRIVATE_REPLY_TEMPLATES: Mapping[str, str] = {
    "phi": (
        "Thank you for reaching out. To protect your privacy we have hidden your comment. "
        "Please contact us privately so we can help."
    ),
    "adverse_event": (
        "Thank you for telling us. We take reports about our products seriously; our safety team "
        "would like to follow up with you privately."
    ),
}


def suggested_reply(categories: Sequence[str]) -> str | None:
    for category in ("phi", "adverse_event"):
        if category in categories:
            return PRIVATE_REPLY_TEMPLATES[category]
    return None


class CommentService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        seal: CommentSeal,
        adapters: Mapping[str, NetworkAdapter],
        accounts: Callable[[AsyncSession], AccountService],
        audit: AuditRecorder,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._session = session
        self._repo = CommentRepository(session)
        self._seal = seal
        self._adapters = adapters
        self._accounts = accounts
        self._audit = audit
        self._clock = clock

    def text_of(self, comment: Comment) -> str:
        return self._seal.open(comment)

    async def get(self, comment_id: str) -> Comment:
        comment = await self._repo.get(comment_id)
        if comment is None:
            raise NotFound(f"no comment {comment_id}")
        return comment

    async def listing(self, *, account: str | None, category: str | None, limit: int) -> Sequence[Comment]:
        return await self._repo.listing(account=account, category=category, limit=limit)

    async def record_screening(self, comment_id: str, screening_id: str, categories: Sequence[str]) -> None:
        comment = await self._repo.get(comment_id, for_update=True)
        if comment is None:
            raise NotFound(f"no comment {comment_id}")
        if comment.screened_at is not None:
            return
        comment.screening_id, comment.categories = screening_id, sorted(set(categories))
        comment.screened_at = self._clock()
        await self._repo.flush()
        await self._audit.append(
            actor="system:publisher",
            action="comment.screened",
            subject=f"comment:{comment.id}",
            details={
                "network": comment.network,
                "publication_id": comment.publication_id,
                "draft_id": comment.draft_id,
                "screening_id": screening_id,
                "categories": comment.categories,
            },
        )

    async def hide(self, comment_id: str, principal: Principal, reason: str) -> Comment:
        """Hide it on its network, or, where the network cannot, flag it for the account owner to
        delete by hand. A refusal by the network is an error with its words, and changes nothing."""
        comment = await self._repo.get(comment_id, for_update=True)
        if comment is None:
            raise NotFound(f"no comment {comment_id}")
        if comment.moderation is not None:
            raise Conflict(f"comment {comment_id} is already {comment.moderation}", code="already_moderated")
        adapter = self._adapters.get(comment.network)
        outcome = FLAGGED_FOR_DELETION
        if isinstance(adapter, CommentModerator):
            accounts = self._accounts(self._session)
            credentials = await accounts.usable_credentials(await accounts.get(comment.account))
            try:
                await adapter.hide_comment(credentials, comment.external_id)
            except ChannelUnavailable as exc:
                raise UpstreamUnavailable(f"{comment.network} did not answer: {exc}") from exc
            except ChannelRejected as exc:
                raise Conflict(
                    f"{comment.network} refused to hide the comment: {exc}", code="refused"
                ) from exc
            outcome = HIDDEN
        comment.moderation, comment.moderated_by, comment.moderated_at = (
            outcome,
            principal.user_id,
            self._clock(),
        )
        await self._repo.flush()
        await self._audit.append(
            actor=principal.user_id,
            action="comment.hidden" if outcome == HIDDEN else "comment.flagged_for_deletion",
            subject=f"comment:{comment.id}",
            details={
                "network": comment.network,
                "account": comment.account,
                "external_id": comment.external_id,
                "reason": reason,
                "categories": comment.categories,
            },
        )
        return comment
