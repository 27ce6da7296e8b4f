from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.drafts.models import Consent, Draft, DraftMedia, DraftVersion, TakedownTask, VersionConsent
from services.kit.db import release_connection


class DraftRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, draft_id: str, *, for_update: bool = False) -> Draft | None:
        statement = select(Draft).where(Draft.id == draft_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_version(self, draft_id: str, version: int) -> DraftVersion | None:
        statement = select(DraftVersion).where(
            DraftVersion.draft_id == draft_id, DraftVersion.version == version
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def versions(self, draft_id: str) -> Sequence[DraftVersion]:
        statement = (
            select(DraftVersion).where(DraftVersion.draft_id == draft_id).order_by(DraftVersion.version)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def list(self, *, author_id: str | None, limit: int = 200) -> Sequence[Draft]:
        statement = select(Draft).order_by(Draft.updated_at.desc()).limit(limit)
        if author_id is not None:
            statement = statement.where(Draft.author_id == author_id)
        return (await self._session.execute(statement)).scalars().all()

    async def current_versions(self, drafts: Sequence[Draft]) -> dict[str, DraftVersion]:
        if not drafts:
            return {}
        wanted = {(d.id, d.current_version) for d in drafts}
        statement = select(DraftVersion).where(DraftVersion.draft_id.in_([d.id for d in drafts]))
        rows = (await self._session.execute(statement)).scalars().all()
        return {v.draft_id: v for v in rows if (v.draft_id, v.version) in wanted}

    def add(self, item: Draft | DraftVersion | DraftMedia | VersionConsent | TakedownTask) -> None:
        self._session.add(item)

    async def media(self, draft_id: str) -> dict[str, DraftMedia]:
        statement = select(DraftMedia).where(DraftMedia.draft_id == draft_id)
        return {m.digest: m for m in (await self._session.execute(statement)).scalars().all()}

    async def get_media(self, draft_id: str, digest: str) -> DraftMedia | None:
        statement = select(DraftMedia).where(DraftMedia.draft_id == draft_id, DraftMedia.digest == digest)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def media_digest_known(self, digest: str) -> bool:
        statement = select(DraftMedia.id).where(DraftMedia.digest == digest).limit(1)
        return (await self._session.execute(statement)).first() is not None

    async def drafts_relying_on(self, consent_id: str) -> Sequence[Draft]:
        """Drafts any of whose versions name the consent, or whose media items do."""
        by_version = select(VersionConsent.draft_id).where(VersionConsent.consent_id == consent_id)
        by_media = select(DraftMedia.draft_id).where(DraftMedia.consent_id == consent_id)
        statement = (
            select(Draft)
            .where(Draft.id.in_(by_version.union(by_media).scalar_subquery()))
            .order_by(Draft.created_at)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def takedowns(self, *, status: str | None, draft_id: str | None) -> Sequence[TakedownTask]:
        statement = select(TakedownTask).order_by(TakedownTask.created_at)
        if status is not None:
            statement = statement.where(TakedownTask.status == status)
        if draft_id is not None:
            statement = statement.where(TakedownTask.draft_id == draft_id)
        return (await self._session.execute(statement)).scalars().all()

    async def get_takedown(self, task_id: str, *, for_update: bool = False) -> TakedownTask | None:
        statement = select(TakedownTask).where(TakedownTask.id == task_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_takedown_for(self, draft_id: str, consent_id: str) -> TakedownTask | None:
        statement = select(TakedownTask).where(
            TakedownTask.draft_id == draft_id, TakedownTask.consent_id == consent_id
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def flush(self) -> None:
        await self._session.flush()

    async def release_connection(self) -> None:
        """Before awaiting Temporal or another service: see services/kit/db.py."""
        await release_connection(self._session)


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, consent_id: str, *, for_update: bool = False) -> Consent | None:
        statement = select(Consent).where(Consent.id == consent_id)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_many(self, consent_ids: Sequence[str]) -> dict[str, Consent]:
        if not consent_ids:
            return {}
        statement = select(Consent).where(Consent.id.in_(list(consent_ids)))
        return {c.id: c for c in (await self._session.execute(statement)).scalars().all()}

    async def all_for_update(self) -> Sequence[Consent]:
        """Every consent record, locked (PostgreSQL) while they are re-sealed."""
        statement = select(Consent).order_by(Consent.recorded_at).with_for_update()
        return (await self._session.execute(statement)).scalars().all()

    async def list(
        self, *, patient_ref_index: str | None, revoked: bool | None, limit: int
    ) -> Sequence[Consent]:
        statement = select(Consent).order_by(Consent.recorded_at.desc()).limit(limit)
        if patient_ref_index is not None:
            statement = statement.where(Consent.patient_ref_index == patient_ref_index)
        if revoked is True:
            statement = statement.where(Consent.revoked_at.is_not(None))
        elif revoked is False:
            statement = statement.where(Consent.revoked_at.is_(None))
        return (await self._session.execute(statement)).scalars().all()

    def add(self, consent: Consent) -> None:
        self._session.add(consent)

    async def flush(self) -> None:
        await self._session.flush()
