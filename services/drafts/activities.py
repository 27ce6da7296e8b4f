from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.drafts.channels import ChannelCatalog
from services.drafts.service import DraftService
from services.kit.audit_client import AuditClient
from services.kit.db import session_scope
from workflows.contracts import UPDATE_DRAFT_STATE, DraftStateUpdate


class DraftActivities:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], audit: AuditClient, channels: ChannelCatalog
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._channels = channels

    @activity.defn(name=UPDATE_DRAFT_STATE)
    async def update_draft_state(self, update: DraftStateUpdate) -> bool:
        async with session_scope(self._sessionmaker) as session:
            service = DraftService(session, audit=self._audit, temporal=None, channels=self._channels)
            return await service.apply_state(update)
