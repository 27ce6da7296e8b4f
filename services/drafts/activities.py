from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from services.drafts.channels import ChannelCatalog
from services.drafts.consents import ConsentService
from services.drafts.sealing import FieldSealer
from services.drafts.service import DraftService
from services.kit.audit_client import AuditClient
from services.kit.db import session_scope
from workflows.contracts import (
    CHECK_CONSENT,
    UPDATE_DRAFT_STATE,
    ConsentCheckInput,
    ConsentCheckResult,
    DraftStateUpdate,
)


class DraftActivities:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditClient,
        channels: ChannelCatalog,
        sealer: FieldSealer | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._audit = audit
        self._channels = channels
        self._sealer = sealer

    @activity.defn(name=UPDATE_DRAFT_STATE)
    async def update_draft_state(self, update: DraftStateUpdate) -> bool:
        async with session_scope(self._sessionmaker) as session:
            service = DraftService(session, audit=self._audit, temporal=None, channels=self._channels)
            return await service.apply_state(update)

    @activity.defn(name=CHECK_CONSENT)
    async def check_consent(self, request: ConsentCheckInput) -> ConsentCheckResult:
        """The consent gate for one exact version at `request.at` (see services/drafts/consent_check.py)."""
        if self._sealer is None:
            raise RuntimeError("the consent key is not loaded; the drafts worker cannot check consent")
        async with session_scope(self._sessionmaker) as session:
            return await ConsentService(session, audit=self._audit, sealer=self._sealer).check(request)
