from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import (
    PENDING,
    PUBLISHED,
    REMOVED,
    ChannelAccount,
    HeldPost,
    LivePost,
    OAuthState,
    Publication,
    PublicationCheckpoint,
    PublishingPause,
)


class PublicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, publication_id: str) -> Publication | None:
        return await self._session.get(Publication, publication_id, populate_existing=True)

    async def get_for(self, draft_id: str, version: int, channel: str) -> Publication | None:
        statement = select(Publication).where(
            Publication.draft_id == draft_id,
            Publication.version == version,
            Publication.channel == channel,
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list_for_draft(self, draft_id: str) -> Sequence[Publication]:
        statement = (
            select(Publication)
            .where(Publication.draft_id == draft_id)
            .order_by(Publication.version, Publication.channel)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def mark_published(self, publication_id: str, *, external_id: str, at: datetime) -> None:
        # Only a pending row moves: a second marker (a concurrent retry) changes nothing.
        statement = (
            update(Publication)
            .where(Publication.id == publication_id, Publication.status == PENDING)
            .values(status=PUBLISHED, external_id=external_id, published_at=at)
        )
        await self._session.execute(statement)

    async def mark_removed(self, publication_id: str, *, evidence: dict[str, Any], at: datetime) -> None:
        statement = (
            update(Publication)
            .where(Publication.id == publication_id, Publication.status == PUBLISHED)
            .values(status=REMOVED, removed_at=at, removal=evidence)
        )
        await self._session.execute(statement)

    async def set_url(self, publication_id: str, url: str | None, network: str | None) -> None:
        statement = (
            update(Publication).where(Publication.id == publication_id).values(url=url, network=network)
        )
        await self._session.execute(statement)

    def add(self, publication: Publication) -> None:
        self._session.add(publication)

    async def flush(self) -> None:
        await self._session.flush()


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def list(self) -> Sequence[ChannelAccount]:
        statement = select(ChannelAccount).order_by(ChannelAccount.name)
        return (await self._session.execute(statement)).scalars().all()

    async def by_name(self, name: str, *, for_update: bool = False) -> ChannelAccount | None:
        statement = select(ChannelAccount).where(ChannelAccount.name == name)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add(self, account: ChannelAccount) -> None:
        self._session.add(account)

    async def flush(self) -> None:
        await self._session.flush()

    # --- browser authorizations in flight -------------------------------------------------------

    def add_state(self, state: OAuthState) -> None:
        self._session.add(state)

    async def take_state(self, state_hash: str, *, now: datetime) -> OAuthState | None:
        """The unused, unexpired authorization with this state, marked used (once only)."""
        statement = (
            update(OAuthState)
            .where(
                OAuthState.state_hash == state_hash, OAuthState.used_at.is_(None), OAuthState.expires_at > now
            )
            .values(used_at=now)
        )
        result = await self._session.execute(statement)
        if getattr(result, "rowcount", 0) != 1:
            return None
        return await self._session.get(OAuthState, state_hash, populate_existing=True)


class CheckpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, publication_id: str, key: str) -> str | None:
        row = await self._session.get(PublicationCheckpoint, (publication_id, key), populate_existing=True)
        return None if row is None else row.value

    async def put(self, publication_id: str, key: str, value: str, *, now: datetime) -> None:
        row = await self._session.get(PublicationCheckpoint, (publication_id, key))
        if row is None:
            self._session.add(
                PublicationCheckpoint(publication_id=publication_id, key=key, value=value, created_at=now)
            )
        else:
            row.value = value
        await self._session.flush()


class PauseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def active(self, scopes: Sequence[str] | None = None) -> Sequence[PublishingPause]:
        statement = select(PublishingPause).where(PublishingPause.resumed_at.is_(None))
        if scopes is not None:
            statement = statement.where(PublishingPause.scope.in_(list(scopes)))
        return (await self._session.execute(statement.order_by(PublishingPause.paused_at))).scalars().all()

    def add(self, pause: PublishingPause) -> None:
        self._session.add(pause)

    async def hold(self, held: HeldPost) -> None:
        existing = await self._session.get(HeldPost, held.draft_id)
        if existing is None:
            self._session.add(held)
        else:
            existing.version, existing.scopes, existing.held_at = held.version, held.scopes, held.held_at
        await self._session.flush()

    async def held(self) -> Sequence[HeldPost]:
        return (await self._session.execute(select(HeldPost).order_by(HeldPost.held_at))).scalars().all()

    async def release(self, draft_id: str) -> None:
        await self._session.execute(delete(HeldPost).where(HeldPost.draft_id == draft_id))

    async def flush(self) -> None:
        await self._session.flush()


class LivePostRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, draft_id: str, *, for_update: bool = False) -> LivePost | None:
        if for_update:
            statement = select(LivePost).where(LivePost.draft_id == draft_id).with_for_update()
            return (await self._session.execute(statement)).scalar_one_or_none()
        return await self._session.get(LivePost, draft_id, populate_existing=True)

    def add(self, live: LivePost) -> None:
        self._session.add(live)

    async def between(self, start: datetime | None, end: datetime | None) -> Sequence[LivePost]:
        statement = select(LivePost)
        if start is not None:
            statement = statement.where(LivePost.published_at >= start)
        if end is not None:
            statement = statement.where(LivePost.published_at < end)
        return (await self._session.execute(statement.order_by(LivePost.published_at))).scalars().all()

    async def expiring(self, before: datetime) -> Sequence[LivePost]:
        statement = (
            select(LivePost)
            .where(LivePost.expires_at.is_not(None), LivePost.expires_at < before, LivePost.status == "live")
            .order_by(LivePost.expires_at)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def flush(self) -> None:
        await self._session.flush()
