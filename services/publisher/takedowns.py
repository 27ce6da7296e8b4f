"""Taking a live post down from every network it went to, and keeping the evidence.

A takedown is asked for by a person (publisher, compliance or admin role; reason and password
re-entry; `POST /api/v1/drafts/{id}/takedown`), by the drafts service when a consent the post
relies on is revoked, or by the content's lifetime running out. Each is recorded on the draft's
live post here, audited, and carried out by its LivePostWorkflow through `take_down_post`:
every publication still up is deleted through its channel (the network's answer, ids and time
kept on the publication, each deletion audited), retried until all are gone; then the drafts
service records the draft `taken_down` (or, for an expired `re_review` lifetime, sends it back to
review). A takedown that cannot finish is recorded as `takedown_failed`, visibly, with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import Conflict, NotFound
from services.kit.tokens import Principal
from services.publisher.channels import ChannelRejected, ChannelUnavailable
from services.publisher.directory import ChannelDirectory, UnknownChannels
from services.publisher.models import (
    LIVE,
    PUBLISHED,
    REMOVED,
    TAKEDOWN_FAILED,
    TAKEN_DOWN,
    TAKING_DOWN,
    LivePost,
    Publication,
)
from services.publisher.repository import LivePostRepository, PublicationRepository
from workflows.contracts import (
    LIVE_POST_PLAN,
    TAKE_DOWN_POST,
    LivePostInput,
    LivePostPlan,
    TakedownInput,
    TakedownResult,
)
from workflows.contracts import (
    TAKEDOWN_FAILED as TAKEDOWN_FAILED_ACTIVITY,
)

TAKEDOWN_ROLES = ("publisher", "compliance", "admin")
SYSTEM = "system:publisher"


class DraftStates(Protocol):
    """The drafts service's record of a draft's state after a takedown (it owns draft status)."""

    async def live_state(self, draft_id: str, *, status: str, reason: str, cause: str) -> None: ...


def live_post_for(publications: Sequence[Publication], now: datetime) -> LivePost | None:
    """A live-post record for a draft published before live posts were kept (no lifetime known)."""
    published = [p for p in publications if p.status in (PUBLISHED, REMOVED)]
    if not published:
        return None
    latest = max(published, key=lambda p: p.version)
    return LivePost(
        draft_id=latest.draft_id,
        version=latest.version,
        content_hash=latest.content_hash,
        status=LIVE,
        published_at=latest.published_at or now,
        expires_at=None,
        on_expiry="pull",
        takedown_reason="",
        takedown_by=None,
        takedown_requested_at=None,
        takedown_completed_at=None,
        takedown_failure="",
    )


class TakedownService:
    def __init__(self, session: AsyncSession, *, audit: AuditRecorder) -> None:
        self._live = LivePostRepository(session)
        self._publications = PublicationRepository(session)
        self._audit = audit

    async def record_live(
        self,
        *,
        draft_id: str,
        version: int,
        content_hash: str,
        lifetime_days: int,
        on_expiry: str,
        now: datetime,
    ) -> LivePost:
        """The draft is on its networks: keep when its approval runs out (audited once)."""
        live = await self._live.get(draft_id, for_update=True)
        expires = now + timedelta(days=lifetime_days) if lifetime_days > 0 else None
        if live is not None and live.version == version and live.status == LIVE:
            return live
        if live is None:
            live = LivePost(draft_id=draft_id)
            self._live.add(live)
        live.version, live.content_hash, live.status, live.published_at = version, content_hash, LIVE, now
        live.expires_at, live.on_expiry = expires, on_expiry or "pull"
        live.takedown_reason, live.takedown_by, live.takedown_failure = "", None, ""
        live.takedown_requested_at = live.takedown_completed_at = None
        await self._live.flush()
        if expires is not None:
            await self._audit.append(
                actor=SYSTEM,
                action="post.lifetime_set",
                subject=f"draft:{draft_id}",
                details={"version": version, "expires_at": expires.isoformat(), "on_expiry": live.on_expiry},
            )
        return live

    async def request(self, draft_id: str, reason: str, actor: Principal | str, *, cause: str) -> str:
        """Record the takedown request (once: a second while one runs is a conflict); its id."""
        live = await self._live.get(draft_id, for_update=True)
        if live is None:
            live = live_post_for(await self._publications.list_for_draft(draft_id), utcnow())
            if live is None:
                raise NotFound(f"draft {draft_id} has no published post to take down", code="not_published")
            self._live.add(live)
        if live.status == TAKEN_DOWN:
            raise Conflict(f"draft {draft_id} was taken down already", code="taken_down")
        if live.status == TAKING_DOWN:
            raise Conflict(f"a takedown of draft {draft_id} is under way", code="takedown_running")
        request_id = str(uuid.uuid4())
        who = actor.user_id if isinstance(actor, Principal) else actor
        live.status, live.takedown_reason, live.takedown_by = TAKING_DOWN, reason, who
        live.takedown_requested_at, live.takedown_failure = utcnow(), ""
        await self._live.flush()
        await self._audit.append(
            actor=actor,
            action="post.takedown_requested",
            subject=f"draft:{draft_id}",
            details={"version": live.version, "reason": reason, "cause": cause, "request_id": request_id},
        )
        return request_id

    async def removed_by_hand(self, publication_id: str, note: str, principal: Principal) -> LivePost | None:
        """Someone removed a post by hand on a network that cannot delete through its API (Instagram):
        the publication is recorded removed, with who and their note as evidence; once nothing of the
        draft is left up, its takedown is done. The live post when that finished it, else None."""
        publication = await self._publications.get(publication_id)
        if publication is None:
            raise NotFound(f"publication {publication_id} does not exist")
        if publication.status != PUBLISHED:
            raise Conflict(f"publication {publication_id} is {publication.status}, not live", code="not_live")
        now = utcnow()
        evidence: dict[str, object] = {
            "by_hand": True,
            "by": principal.user_id,
            "note": note,
            "external_id": publication.external_id,
            "removed_at": now.isoformat(),
        }
        await self._publications.mark_removed(publication_id, evidence=evidence, at=now)
        await self._audit.append(
            actor=principal,
            action="post.removed_by_hand",
            subject=f"draft:{publication.draft_id}",
            details={
                "publication_id": publication_id,
                "channel": publication.channel,
                "network": publication.network,
                "url": publication.url,
                "note": note,
            },
        )
        remaining = [
            p
            for p in await self._publications.list_for_draft(publication.draft_id)
            if p.status == PUBLISHED and p.id != publication_id
        ]
        live = await self._live.get(publication.draft_id, for_update=True)
        if remaining or live is None or live.status not in (TAKING_DOWN, TAKEDOWN_FAILED):
            return None
        live.status, live.takedown_completed_at, live.takedown_failure = TAKEN_DOWN, now, ""
        await self._live.flush()
        await self._audit.append(
            actor=principal,
            action="post.taken_down",
            subject=f"draft:{publication.draft_id}",
            details={"version": live.version, "cause": "removed_by_hand", "reason": live.takedown_reason},
        )
        return live

    async def expiring(self, within: timedelta) -> Sequence[LivePost]:
        return await self._live.expiring(utcnow() + within)

    async def published_between(self, start: datetime | None, end: datetime | None) -> Sequence[LivePost]:
        return await self._live.between(start, end)

    async def abandon(self, draft_id: str, request_id: str, why: str) -> None:
        """The takedown could not be handed to its workflow: recorded as failed, visibly."""
        live = await self._live.get(draft_id, for_update=True)
        if live is None or live.status != TAKING_DOWN:
            return
        live.status, live.takedown_failure = TAKEDOWN_FAILED, why[:2000]
        await self._live.flush()
        await self._audit.append(
            actor=SYSTEM,
            action="post.takedown_failed",
            subject=f"draft:{draft_id}",
            details={"reason": why, "request_id": request_id, "removed": []},
        )


class LivePostActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: ChannelDirectory,
        drafts: DraftStates,
        audit: AuditRecorder,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._directory = directory
        self._drafts = drafts
        self._audit = audit
        self._clock = clock

    @activity.defn(name=LIVE_POST_PLAN)
    async def live_post_plan(self, request: LivePostInput) -> LivePostPlan:
        async with self._sessionmaker() as session:
            live = await LivePostRepository(session).get(request.draft_id)
        if live is None:
            return LivePostPlan(expires_at=None, on_expiry="pull", status="none")
        expires = live.expires_at.isoformat() if live.expires_at else None
        return LivePostPlan(expires_at=expires, on_expiry=live.on_expiry, status=live.status)

    @activity.defn(name=TAKE_DOWN_POST)
    async def take_down_post(self, order: TakedownInput) -> TakedownResult:
        """Delete every publication of the draft still up; safe to repeat (removed ones are skipped)."""
        live, publications = await self._begin(order)
        if live.status == TAKEN_DOWN:  # a retry after the takedown finished: the same answer
            return TakedownResult(
                status=TAKEN_DOWN, removed=[p.channel for p in publications if p.status == REMOVED]
            )
        removed: list[str] = []
        refused: list[str] = []
        transient: list[str] = []
        for publication in publications:
            if publication.status == REMOVED:
                removed.append(publication.channel)
                continue
            if publication.external_id is None:
                continue  # never reached its network: nothing to delete
            try:
                channels = await self._directory.resolve([publication.channel])
                evidence = await channels[publication.channel].remove(publication.id, publication.external_id)
            except UnknownChannels:
                refused.append(f"{publication.channel}: the channel is no longer configured or connected")
                continue
            except ChannelRejected as exc:
                refused.append(f"{publication.channel}: {exc}")
                continue
            except ChannelUnavailable as exc:
                transient.append(f"{publication.channel}: {exc}")
                continue
            await self._mark_removed(publication, evidence)
            removed.append(publication.channel)
        if transient:
            # Temporal tries again (with backoff); what was removed stays removed.
            raise ApplicationError("not yet removed from " + "; ".join(transient), type="TakedownIncomplete")
        if refused:
            return await self._finish_failed(order, live.draft_id, "; ".join(refused), removed)
        return await self._finish(order, live, removed)

    @activity.defn(name=TAKEDOWN_FAILED_ACTIVITY)
    async def takedown_failed(self, order: TakedownInput) -> TakedownResult:
        return await self._finish_failed(order, order.draft_id, order.reason, [])

    async def _begin(self, order: TakedownInput) -> tuple[LivePost, list[Publication]]:
        async with self._sessionmaker() as session, session.begin():
            repository = LivePostRepository(session)
            live = await repository.get(order.draft_id, for_update=True)
            if live is None:
                raise ApplicationError(
                    f"draft {order.draft_id} has no live post", type="NotLive", non_retryable=True
                )
            if order.cause == "expired" and live.status == LIVE:
                # The lifetime ran out: recorded (and audited) as the takedown's reason.
                live.status, live.takedown_requested_at = TAKING_DOWN, self._clock()
                live.takedown_reason, live.takedown_by = "the approved lifetime ended", SYSTEM
                await self._audit.append(
                    actor=SYSTEM,
                    action="post.expired",
                    subject=f"draft:{order.draft_id}",
                    details={
                        "version": live.version,
                        "expires_at": live.expires_at.isoformat() if live.expires_at else None,
                        "on_expiry": live.on_expiry,
                    },
                )
            elif live.status == TAKEN_DOWN:
                return live, list(await PublicationRepository(session).list_for_draft(order.draft_id))
            elif live.status not in (TAKING_DOWN, TAKEDOWN_FAILED):
                raise ApplicationError(
                    f"draft {order.draft_id} is {live.status}, not being taken down",
                    type="NotLive",
                    non_retryable=True,
                )
            live.status = TAKING_DOWN
            publications = list(await PublicationRepository(session).list_for_draft(order.draft_id))
        return live, publications

    async def _mark_removed(self, publication: Publication, evidence: dict[str, object]) -> None:
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            await PublicationRepository(session).mark_removed(publication.id, evidence=evidence, at=now)
        await self._audit.append(
            actor=SYSTEM,
            action="post.removed_from_channel",
            subject=f"draft:{publication.draft_id}",
            details={
                "publication_id": publication.id,
                "version": publication.version,
                "channel": publication.channel,
                "network": publication.network,
                "external_id": publication.external_id,
                "url": publication.url,
                "evidence": evidence,
            },
            idempotency_key=f"publisher:removed:{publication.id}",
        )

    async def _finish(self, order: TakedownInput, live: LivePost, removed: list[str]) -> TakedownResult:
        re_review = order.cause == "expired" and live.on_expiry == "re_review"
        async with self._sessionmaker() as session, session.begin():
            record = await LivePostRepository(session).get(live.draft_id, for_update=True)
            assert record is not None
            record.status, record.takedown_completed_at = TAKEN_DOWN, self._clock()
            reason = record.takedown_reason
        await self._audit.append(
            actor=SYSTEM,
            action="post.taken_down",
            subject=f"draft:{live.draft_id}",
            details={"version": live.version, "channels": removed, "cause": order.cause, "reason": reason},
            idempotency_key=f"publisher:taken_down:{live.draft_id}:{order.request_id or order.cause}",
        )
        await self._drafts.live_state(
            live.draft_id, status="re_review" if re_review else TAKEN_DOWN, reason=reason, cause=order.cause
        )
        return TakedownResult(status=TAKEN_DOWN, removed=removed)

    async def _finish_failed(
        self, order: TakedownInput, draft_id: str, reason: str, removed: list[str]
    ) -> TakedownResult:
        async with self._sessionmaker() as session, session.begin():
            record = await LivePostRepository(session).get(draft_id, for_update=True)
            if record is not None:
                record.status, record.takedown_failure = TAKEDOWN_FAILED, reason[:2000]
        await self._audit.append(
            actor=SYSTEM,
            action="post.takedown_failed",
            subject=f"draft:{draft_id}",
            details={"reason": reason, "removed": removed, "cause": order.cause},
            idempotency_key=f"publisher:takedown_failed:{draft_id}:{order.request_id or order.cause}",
        )
        await self._drafts.live_state(draft_id, status=TAKEDOWN_FAILED, reason=reason, cause=order.cause)
        return TakedownResult(status=TAKEDOWN_FAILED, removed=removed, failed=[reason])
