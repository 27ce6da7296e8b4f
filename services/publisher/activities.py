"""The publisher's Temporal activity: post one approved version, at most once per channel.

Before anything is posted: the approvals are verified, the content hash recomputed, the consent
gate asked and the pauses read; while a pause covers one of the post's channels nothing is
posted and the answer is `PublishingPaused` (the workflow holds the post until the resume).
Once every channel has it, the live post is recorded with its lifetime and its LivePostWorkflow
(expiry, takedown) is started.

Retries are safe because each step leaves a trace the next attempt reads:
1. a `pending` publication row is committed before anything leaves the building;
2. the channel is asked whether it already has that publication id, and posted to only if not;
3. the row is marked `published` in its own commit.
A crash between any two steps makes the retry pick up where the first attempt stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.kit.audit_client import AuditRecorder
from services.kit.canonical import content_hash
from services.kit.clock import utcnow
from services.kit.errors import ClearpostError
from services.publisher.approvals import ApprovalGate
from services.publisher.channels import (
    Channel,
    ChannelRejected,
    ChannelUnavailable,
    OutgoingMedia,
    OutgoingPost,
)
from services.publisher.directory import UnknownChannels, blocking_pauses
from services.publisher.drafts_client import VersionSource
from services.publisher.metrics import PUBLICATIONS, PUBLISH_FAILURES
from services.publisher.models import PUBLISHED, HeldPost, Publication
from services.publisher.repository import PauseRepository
from services.publisher.schemas import VersionContent
from services.publisher.service import ContentHashConflict, PublicationService
from services.publisher.takedowns import TakedownService
from workflows.contracts import (
    PUBLISH_POST,
    PUBLISHING_PAUSED,
    PublicationRef,
    PublishRequest,
    PublishResult,
)
from workflows.crisis_templates import POST_PURPOSE
from workflows.signatures import Requirement

CONTENT_MISMATCH = "ContentMismatch"
CHANNEL_NOT_CONFIGURED = "ChannelNotConfigured"
CHANNEL_NOT_APPROVED = "ChannelNotApproved"
CONTENT_TOO_LONG = "ContentTooLong"
VERSION_NOT_FOUND = "VersionNotFound"
CHANNEL_REJECTED = "ChannelRejected"
CHANNEL_UNAVAILABLE = "ChannelUnavailable"


LOCKED_RETRIES = 8


class ChannelResolver(Protocol):
    async def resolve(self, names: Sequence[str]) -> dict[str, Channel]:
        """The channels by name; UnknownChannels names those that do not exist."""
        ...


class StaticChannels:
    """A fixed set of channels (the configured ones; tests)."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self._channels = channels

    async def resolve(self, names: Sequence[str]) -> dict[str, Channel]:
        missing = [name for name in names if name not in self._channels]
        if missing:
            raise UnknownChannels(missing)
        return {name: self._channels[name] for name in names}


class LiveWatch(Protocol):
    async def watch_live_post(self, draft_id: str) -> None: ...


class PublisherActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        drafts: VersionSource,
        channels: Mapping[str, Channel] | ChannelResolver,
        *,
        approvals: ApprovalGate,
        audit: AuditRecorder | None = None,
        live_watch: LiveWatch | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._drafts = drafts
        self._channels: ChannelResolver = (
            StaticChannels(channels) if isinstance(channels, Mapping) else channels
        )
        self._approvals = approvals
        self._audit = audit or approvals.audit
        self._live_watch = live_watch
        self._clock = clock

    @activity.defn(name=PUBLISH_POST)
    async def publish_post(self, request: PublishRequest) -> PublishResult:
        channel_names = list(dict.fromkeys(request.channels))
        try:
            channels = await self._channels.resolve(channel_names)
        except UnknownChannels as exc:
            raise ApplicationError(
                f"channels not configured on this publisher: {', '.join(exc.names)}",
                type=CHANNEL_NOT_CONFIGURED,
                non_retryable=True,
            ) from exc
        content = await self._fetch(request)
        if content.purpose != POST_PURPOSE:
            # A template is reviewed to be filled, not posted; a filled one goes out with its
            # signed template records (publish_template_post), never as an ordinary post.
            await self._approvals.refuse(
                request, [f"draft {request.draft_id} is a {content.purpose}, not a post: it is not published"]
            )
        requirement = await self._approvals.check(request, author_id=content.author_id)
        self._verify(request, content, channels)
        await self._consent_holds(request, channel_names, list(requirement.categories))
        await self._not_paused(request, channel_names)
        media = await self._fetch_media(content)
        refs = [await self._publish_on(channels[name], request, content, media) for name in channel_names]
        await self._went_live(request, requirement)
        return PublishResult(publications=refs)

    async def _not_paused(self, request: PublishRequest, channels: list[str]) -> None:
        """While a pause covers any of the channels, hold the post: nothing is posted anywhere."""
        async with self._sessionmaker() as session, session.begin():
            reasons = await blocking_pauses(session, channels)
            pauses = PauseRepository(session)
            if not reasons:
                await pauses.release(request.draft_id)
                return
            await pauses.hold(
                HeldPost(
                    draft_id=request.draft_id, version=request.version, scopes=channels, held_at=self._clock()
                )
            )
        raise ApplicationError("; ".join(reasons), type=PUBLISHING_PAUSED, non_retryable=True)

    async def _went_live(self, request: PublishRequest, requirement: Requirement) -> None:
        """Keep the live post and its lifetime (from the signed requirement), and watch it."""
        for attempt in range(2):
            try:
                async with self._sessionmaker() as session, session.begin():
                    await TakedownService(session, audit=self._audit).record_live(
                        draft_id=request.draft_id,
                        version=request.version,
                        content_hash=request.content_hash,
                        lifetime_days=requirement.lifetime_days,
                        on_expiry=requirement.on_expiry,
                        now=self._clock(),
                    )
                break
            except IntegrityError:
                if attempt:  # a concurrent attempt recorded it first: the second pass finds its row
                    raise
        if self._live_watch is not None:
            await self._live_watch.watch_live_post(request.draft_id)

    async def _consent_holds(
        self, request: PublishRequest, channels: list[str], categories: list[str]
    ) -> None:
        """The drafts service's consent gate, asked now by the publisher itself: a consent that expired
        or was revoked since the workflow last asked, or a forged answer on the workflow's task queue,
        publishes nothing."""
        try:
            verdict = await self._drafts.consent_check(
                request.draft_id,
                request.version,
                content_hash=request.content_hash,
                channels=channels,
                categories=categories,
            )
        except ClearpostError as exc:
            if exc.status_code in (404, 409):
                await self._approvals.refuse(request, [f"the consent gate refused: {exc.detail}"])
            raise  # the drafts service is down or busy: a later attempt may succeed
        if not verdict.ok:
            await self._approvals.refuse(request, ["consent: " + "; ".join(verdict.reasons)])

    async def _fetch_media(self, content: VersionContent) -> tuple[OutgoingMedia, ...]:
        """The images by digest, as the content hash names them (the drafts client checks each digest)."""
        items = []
        for digest in content.media_digests:
            try:
                data, media_type = await self._drafts.get_media(digest)
            except ClearpostError as exc:
                if exc.code == "media_mismatch" or exc.status_code == 404:
                    raise ApplicationError(str(exc), type=CONTENT_MISMATCH, non_retryable=True) from exc
                raise
            items.append(OutgoingMedia(digest=digest, media_type=media_type, data=data))
        return tuple(items)

    async def _fetch(self, request: PublishRequest) -> VersionContent:
        try:
            return await self._drafts.get_version(request.draft_id, request.version)
        except ClearpostError as exc:
            if exc.status_code == 404:
                raise ApplicationError(
                    f"draft {request.draft_id} v{request.version} does not exist: {exc.detail}",
                    type=VERSION_NOT_FOUND,
                    non_retryable=True,
                ) from exc
            raise  # the drafts service is down or busy: a later attempt may succeed

    def _verify(
        self, request: PublishRequest, content: VersionContent, channels: Mapping[str, Channel]
    ) -> None:
        """Refuse anything but the exact content whose hash was approved."""
        recomputed = content_hash(
            title=content.title,
            body=content.body,
            channels=content.channels,
            media_digests=content.media_digests,
        )
        if (
            content.draft_id != request.draft_id
            or content.version != request.version
            or content.content_hash != request.content_hash
            or recomputed != request.content_hash
        ):
            raise ApplicationError(
                f"draft {request.draft_id} v{request.version} does not match the approved content hash "
                f"{request.content_hash} (drafts says {content.content_hash}, recomputed {recomputed})",
                type=CONTENT_MISMATCH,
                non_retryable=True,
            )
        not_approved = [name for name in channels if name not in content.channels]
        if not_approved:
            raise ApplicationError(
                f"draft {request.draft_id} v{request.version} was not approved for {', '.join(not_approved)}",
                type=CHANNEL_NOT_APPROVED,
                non_retryable=True,
            )
        too_long = [
            f"{name} ({channel.measure(content.body)} of {channel.max_length})"
            for name, channel in channels.items()
            if channel.measure(content.body) > channel.max_length
        ]
        if too_long:
            raise ApplicationError(
                f"the body is longer than {', '.join(too_long)} allows",
                type=CONTENT_TOO_LONG,
                non_retryable=True,
            )

    async def _publish_on(
        self,
        channel: Channel,
        request: PublishRequest,
        content: VersionContent,
        media: tuple[OutgoingMedia, ...] = (),
    ) -> PublicationRef:
        publication = await self._open(channel.name, request)
        if publication.status != PUBLISHED:
            try:
                external_id = await channel.already_posted(publication.id)
                if external_id is None:
                    external_id = await channel.post(
                        OutgoingPost(
                            publication_id=publication.id,
                            draft_id=request.draft_id,
                            version=request.version,
                            channel=channel.name,
                            content_hash=request.content_hash,
                            title=content.title,
                            body=content.body,
                            media=media,
                        )
                    )
            except ChannelRejected as exc:
                PUBLISH_FAILURES.labels(channel.name, "rejected").inc()
                raise ApplicationError(
                    f"{channel.name}: {exc}", type=CHANNEL_REJECTED, non_retryable=True
                ) from exc
            except ChannelUnavailable as exc:
                PUBLISH_FAILURES.labels(channel.name, "unavailable").inc()
                # Retried by Temporal; the pending row and the channel's record keep it at most once.
                raise ApplicationError(f"{channel.name}: {exc}", type=CHANNEL_UNAVAILABLE) from exc
            PUBLICATIONS.labels(channel.name).inc()
            url = await channel.url_of(publication.id)
            async with self._sessionmaker() as session, session.begin():
                publication = await PublicationService(session).mark_published(
                    publication.id,
                    external_id=external_id,
                    now=self._clock(),
                    url=url,
                    network=getattr(channel, "network", None),
                )
            # The trail names where the post is: its network, external id and public URL.
            await self._audit.append(
                actor="system:publisher",
                action="post.live_on_channel",
                subject=f"draft:{request.draft_id}",
                details={
                    "version": request.version,
                    "content_hash": request.content_hash,
                    "publication_id": publication.id,
                    "channel": channel.name,
                    "network": publication.network,
                    "external_id": publication.external_id,
                    "url": publication.url,
                },
                idempotency_key=f"publisher:live:{publication.id}",
            )
        activity.logger.info("draft %s v%s is on %s", request.draft_id, request.version, channel.name)
        return PublicationRef(channel=channel.name, publication_id=publication.id, status=publication.status)

    async def _open(self, channel: str, request: PublishRequest) -> Publication:
        """Step 1, retried while SQLite reports a lock-upgrade race with a concurrent writer
        (it answers such races with an immediate "database is locked", not a wait)."""
        for attempt in range(LOCKED_RETRIES):
            try:
                return await self._open_once(channel, request)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == LOCKED_RETRIES - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open_once(self, channel: str, request: PublishRequest) -> Publication:
        """The committed publication row, created pending or found as it was left."""
        try:
            try:
                async with self._sessionmaker() as session, session.begin():
                    return await PublicationService(session).open_pending(
                        draft_id=request.draft_id,
                        version=request.version,
                        channel=channel,
                        content_hash=request.content_hash,
                        now=self._clock(),
                    )
            except IntegrityError:
                # Another attempt inserted the same publication first; use its row.
                async with self._sessionmaker() as session:
                    existing = await PublicationService(session).find(
                        draft_id=request.draft_id, version=request.version, channel=channel
                    )
                    if existing is None:
                        raise
                    PublicationService.ensure_hash(existing, request.content_hash)
                    return existing
        except ContentHashConflict as exc:
            raise ApplicationError(str(exc), type=CONTENT_MISMATCH, non_retryable=True) from exc
