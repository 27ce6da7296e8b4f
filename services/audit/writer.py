"""AuditLog: the one writer of the log, shared by the HTTP route and the Temporal activity.

Appends are serialized in this process (one lock) and retried while SQLite reports a busy write
lock; each appended event grows the tree, and heads are signed as it grows.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.audit.entries import to_out
from services.audit.schemas import AuditEventIn, AuditEventOut
from services.audit.service import AuditService, utc_now_iso
from services.audit.signing import AuditSigner, SignedTreeHead
from services.kit.db import session_scope
from services.kit.errors import UpstreamUnavailable

log = logging.getLogger(__name__)

APPEND_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.005


async def jittered_backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, BACKOFF_BASE_SECONDS * 2**attempt))


def _sqlite_busy(exc: OperationalError) -> bool:
    """SQLite refuses (without waiting) a read transaction's upgrade to write after another commit."""
    return "database is locked" in str(exc.orig)


@dataclass(frozen=True)
class Appended:
    event: AuditEventOut
    created: bool


class AuditLog:
    """The single way events enter the log, shared by the HTTP route and the Temporal activity.

    The chain needs the tail read, the insert and the commit to happen as one step: the asyncio
    lock serializes that step inside this process and is held until the commit, so this class
    owns its unit of work instead of borrowing the request's. Another process racing for the same
    seq (or the same idempotency key, or the same tree node) loses on the primary key / unique
    constraint and retries on the new tail. With a signer, every `head_every_events`-th event
    also gets a signed tree head in the same transaction.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        attempts: int = APPEND_ATTEMPTS,
        clock: Callable[[], str] = utc_now_iso,
        backoff: Callable[[int], Awaitable[None]] = jittered_backoff,
        signer: AuditSigner | None = None,
        head_every_events: int = 0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._attempts = attempts
        self._clock = clock
        self._backoff = backoff
        self._lock = asyncio.Lock()
        self._unit_of_work = session_scope
        self.signer = signer
        self._head_every_events = head_every_events

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    def now(self) -> str:
        return self._clock()

    async def append(self, entry: AuditEventIn) -> Appended:
        async with self._lock:
            for attempt in range(self._attempts):
                try:
                    async with self._unit_of_work(self._sessionmaker) as session:
                        event, created = await AuditService(session).append(
                            entry,
                            at=self._clock(),
                            signer=self.signer,
                            head_every_events=self._head_every_events,
                        )
                        result = Appended(event=to_out(event), created=created)
                except (IntegrityError, OperationalError) as exc:
                    if isinstance(exc, OperationalError) and not _sqlite_busy(exc):
                        raise
                    # Another process took this seq (or key); wait a moment so the two writers
                    # stop colliding in lockstep, then link after the new tail.
                    await self._backoff(attempt)
                    continue
                return result
        raise UpstreamUnavailable("the audit log is busy with other writers; try again")

    async def sign_tree_head(self, *, only_if_grown: bool = False) -> SignedTreeHead | None:
        """Sign the current tree (kept in the heads table); with only_if_grown, skip an unchanged tree."""
        if self.signer is None:
            raise UpstreamUnavailable("the audit log has no signing key")
        for attempt in range(self._attempts):
            try:
                async with self._unit_of_work(self._sessionmaker) as session:
                    service = AuditService(session)
                    if only_if_grown:
                        latest = await service.latest_head()
                        if latest is not None and latest.tree_size >= await service.tree_size():
                            return None
                    return await service.sign_tree_head(self.signer, timestamp=self._clock())
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and not _sqlite_busy(exc):
                    raise
                await self._backoff(attempt)  # another process signed the same size: read theirs
        raise UpstreamUnavailable("the audit log is busy with other writers; try again")
