from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import AuditEvent


class AuditEventRepository:
    """Reads and inserts only: the log has no update or delete path."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_by_idempotency_key(self, key: str) -> AuditEvent | None:
        statement = select(AuditEvent).where(AuditEvent.idempotency_key == key)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def tail(self) -> AuditEvent | None:
        statement = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list(
        self,
        *,
        draft_id: str | None,
        action: str | None,
        actor: str | None,
        after_seq: int,
        limit: int,
    ) -> Sequence[AuditEvent]:
        statement = select(AuditEvent).where(AuditEvent.seq > after_seq)
        if draft_id is not None:
            statement = statement.where(AuditEvent.draft_id == draft_id)
        if action is not None:
            statement = statement.where(AuditEvent.action == action)
        if actor is not None:
            statement = statement.where(AuditEvent.actor == actor)
        statement = statement.order_by(AuditEvent.seq).limit(limit)
        return (await self._session.execute(statement)).scalars().all()

    async def in_seq_order(self, *, batch_size: int) -> AsyncIterator[AuditEvent]:
        """Every event by seq, fetched in keyset batches so the table is never held in memory."""
        after: int | None = None
        while True:
            statement = select(AuditEvent).order_by(AuditEvent.seq).limit(batch_size)
            if after is not None:
                statement = statement.where(AuditEvent.seq > after)
            batch = (await self._session.execute(statement)).scalars().all()
            for item in batch:
                yield item
            if len(batch) < batch_size:
                return
            after = batch[-1].seq

    def add(self, item: AuditEvent) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()
