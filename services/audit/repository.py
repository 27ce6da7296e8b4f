from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.merkle import NodeKey
from services.audit.models import AuditEvent, AuditTreeHead, AuditTreeNode

# Bound parameters per IN list: far below SQLite's and asyncpg's limits.
IN_LIST_CHUNK = 900


@dataclass(frozen=True)
class EventFilter:
    since: str | None = None
    until: str | None = None
    draft_id: str | None = None
    actor: str | None = None
    action: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(AuditEvent.at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.at < self.until)
        if self.draft_id is not None:
            conditions.append(AuditEvent.draft_id == self.draft_id)
        if self.actor is not None:
            conditions.append(AuditEvent.actor == self.actor)
        if self.action is not None:
            conditions.append(AuditEvent.action == self.action)
        return conditions


class AuditEventRepository:
    """Reads and inserts only: the log, its tree and its heads have no update or delete path."""

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
        flt = EventFilter(draft_id=draft_id, action=action, actor=actor)
        statement = select(AuditEvent).where(AuditEvent.seq > after_seq, *flt.conditions())
        statement = statement.order_by(AuditEvent.seq).limit(limit)
        return (await self._session.execute(statement)).scalars().all()

    async def page(
        self, flt: EventFilter, *, after_seq: int, upto_seq: int, limit: int
    ) -> Sequence[AuditEvent]:
        """The next `limit` events matching `flt` with after_seq < seq <= upto_seq, by seq."""
        statement = (
            select(AuditEvent)
            .where(AuditEvent.seq > after_seq, AuditEvent.seq <= upto_seq, *flt.conditions())
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
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

    async def bounds(self) -> tuple[int, int]:
        """(last seq, Merkle tree size), read in one statement so both come from one snapshot."""
        last_seq = select(func.max(AuditEvent.seq)).scalar_subquery()
        last_leaf = select(func.max(AuditTreeNode.index)).where(AuditTreeNode.level == 0).scalar_subquery()
        row = (await self._session.execute(select(last_seq, last_leaf))).one()
        return int(row[0] or 0), (int(row[1]) + 1 if row[1] is not None else 0)

    async def tree_size(self) -> int:
        statement = select(func.max(AuditTreeNode.index)).where(AuditTreeNode.level == 0)
        last = (await self._session.execute(statement)).scalar_one_or_none()
        return 0 if last is None else int(last) + 1

    async def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        by_level: dict[int, set[int]] = defaultdict(set)
        for level, index in keys:
            by_level[level].add(index)
        found: dict[NodeKey, bytes] = {}
        for level, indexes in by_level.items():
            ordered = sorted(indexes)
            for start in range(0, len(ordered), IN_LIST_CHUNK):
                chunk = ordered[start : start + IN_LIST_CHUNK]
                statement = select(AuditTreeNode.index, AuditTreeNode.hash).where(
                    AuditTreeNode.level == level, AuditTreeNode.index.in_(chunk)
                )
                for index, digest in (await self._session.execute(statement)).all():
                    found[(level, index)] = bytes(digest)
        return found

    async def leaves(self, first: int, last: int) -> dict[int, bytes]:
        """Leaf hashes with first <= index <= last."""
        statement = select(AuditTreeNode.index, AuditTreeNode.hash).where(
            AuditTreeNode.level == 0, AuditTreeNode.index >= first, AuditTreeNode.index <= last
        )
        return {index: bytes(digest) for index, digest in (await self._session.execute(statement)).all()}

    async def heads(self) -> Sequence[AuditTreeHead]:
        statement = select(AuditTreeHead).order_by(AuditTreeHead.tree_size)
        return (await self._session.execute(statement)).scalars().all()

    async def head(self, tree_size: int) -> AuditTreeHead | None:
        return await self._session.get(AuditTreeHead, tree_size)

    async def largest_head(self) -> AuditTreeHead | None:
        statement = select(AuditTreeHead).order_by(AuditTreeHead.tree_size.desc()).limit(1)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def largest_head_other_than(self, tree_size: int) -> AuditTreeHead | None:
        statement = (
            select(AuditTreeHead)
            .where(AuditTreeHead.tree_size != tree_size)
            .order_by(AuditTreeHead.tree_size.desc())
            .limit(1)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add(self, item: AuditEvent | AuditTreeNode | AuditTreeHead) -> None:
        self._session.add(item)

    async def flush(self) -> None:
        await self._session.flush()
