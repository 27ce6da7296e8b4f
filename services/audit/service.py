"""The append-only, hash-chained audit log: appending one event and verifying the whole chain."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.audit.models import GENESIS_HASH, AuditEvent
from services.audit.repository import AuditEventRepository
from services.audit.schemas import AuditEventIn, AuditEventOut, VerifyResult
from services.kit.canonical import canonical_json, canonical_sha256
from services.kit.db import session_scope
from services.kit.errors import Conflict, Unprocessable, UpstreamUnavailable

DRAFT_SUBJECT_PREFIX = "draft:"
VERIFY_BATCH_SIZE = 1000
APPEND_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.005


def utc_now_iso() -> str:
    """Server UTC time as the fixed-width string that is hashed, stored and returned."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


async def jittered_backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, BACKOFF_BASE_SECONDS * 2**attempt))


def draft_id_from_subject(subject: str) -> str | None:
    """`draft:<id>` (optionally followed by `:<more>`) names a draft; anything else does not."""
    if not subject.startswith(DRAFT_SUBJECT_PREFIX):
        return None
    return subject[len(DRAFT_SUBJECT_PREFIX) :].split(":", 1)[0] or None


def event_hash(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    idempotency_key: str,
    prev_hash: str,
) -> str:
    return canonical_sha256(
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "idempotency_key": idempotency_key,
            "prev_hash": prev_hash,
        }
    )


def stored_event_hash(event: AuditEvent) -> str:
    return event_hash(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        details=event.details,
        idempotency_key=event.idempotency_key,
        prev_hash=event.prev_hash,
    )


def canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details exactly as JSON storage will give them back, so the hash survives the round trip."""
    try:
        normalized: dict[str, Any] = json.loads(canonical_json(details))
    except ValueError as exc:  # rfc8785.CanonicalizationError is a ValueError
        raise Unprocessable(f"details must be plain JSON: {exc}") from exc
    return normalized


def to_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        subject=event.subject,
        draft_id=event.draft_id,
        details=event.details,
        idempotency_key=event.idempotency_key,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


class AuditService:
    """Business rules over one session; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._events = AuditEventRepository(session)

    async def append(self, entry: AuditEventIn, *, at: str) -> tuple[AuditEvent, bool]:
        """Link `entry` after the current tail; (event, created). A reused key returns the original."""
        details = canonical_details(entry.details)
        existing = await self._events.get_by_idempotency_key(entry.idempotency_key)
        if existing is not None:
            same = (
                existing.actor == entry.actor
                and existing.action == entry.action
                and existing.subject == entry.subject
                and canonical_json(existing.details) == canonical_json(details)
            )
            if not same:
                raise Conflict(
                    f"idempotency key {entry.idempotency_key!r} was already used for a different event"
                )
            return existing, False

        tail = await self._events.tail()
        seq = 1 if tail is None else tail.seq + 1
        prev_hash = GENESIS_HASH if tail is None else tail.hash
        event = AuditEvent(
            seq=seq,
            at=at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            draft_id=draft_id_from_subject(entry.subject),
            details=details,
            idempotency_key=entry.idempotency_key,
            prev_hash=prev_hash,
        )
        event.hash = stored_event_hash(event)
        self._events.add(event)
        await self._events.flush()
        return event, True

    async def list_events(
        self,
        *,
        draft_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        after_seq: int = 0,
        limit: int,
    ) -> list[AuditEventOut]:
        rows = await self._events.list(
            draft_id=draft_id, action=action, actor=actor, after_seq=after_seq, limit=limit
        )
        return [to_out(row) for row in rows]

    async def verify(self, *, batch_size: int = VERIFY_BATCH_SIZE) -> VerifyResult:
        """Walk the chain from genesis; stop at the first event that does not hold."""
        expected_seq = 1
        prev_hash = GENESIS_HASH
        good = 0
        async for event in self._events.in_seq_order(batch_size=batch_size):
            reason = _first_problem(event, expected_seq=expected_seq, prev_hash=prev_hash)
            if reason is not None:
                return VerifyResult(ok=False, events=good, first_bad_seq=event.seq, reason=reason)
            good += 1
            expected_seq = event.seq + 1
            prev_hash = event.hash
        return VerifyResult(ok=True, events=good)


def _first_problem(event: AuditEvent, *, expected_seq: int, prev_hash: str) -> str | None:
    if event.seq != expected_seq:
        return f"gap before seq {event.seq} (expected seq {expected_seq})"
    if event.prev_hash != prev_hash:
        return "broken link: prev_hash does not match the previous event's hash"
    try:
        recomputed = stored_event_hash(event)
    except ValueError:
        return "hash mismatch: stored content is not canonical JSON"
    if recomputed != event.hash:
        return "hash mismatch"
    if event.draft_id != draft_id_from_subject(event.subject):
        return "draft_id does not match subject"
    return None


@dataclass(frozen=True)
class Appended:
    event: AuditEventOut
    created: bool


class AuditLog:
    """The single way events enter the log, shared by the HTTP route and the Temporal activity.

    The chain needs the tail read, the insert and the commit to happen as one step: the asyncio
    lock serializes that step inside this process and is held until the commit, so this class
    owns its unit of work instead of borrowing the request's. Another process racing for the same
    seq (or the same idempotency key) loses on the primary key / unique constraint and retries on
    the new tail.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        attempts: int = APPEND_ATTEMPTS,
        clock: Callable[[], str] = utc_now_iso,
        backoff: Callable[[int], Awaitable[None]] = jittered_backoff,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._attempts = attempts
        self._clock = clock
        self._backoff = backoff
        self._lock = asyncio.Lock()
        self._unit_of_work = session_scope

    async def append(self, entry: AuditEventIn) -> Appended:
        async with self._lock:
            for attempt in range(self._attempts):
                try:
                    async with self._unit_of_work(self._sessionmaker) as session:
                        event, created = await AuditService(session).append(entry, at=self._clock())
                        result = Appended(event=to_out(event), created=created)
                except IntegrityError:
                    # Another process took this seq (or key); wait a moment so the two writers
                    # stop colliding in lockstep, then link after the new tail.
                    await self._backoff(attempt)
                    continue
                return result
        raise UpstreamUnavailable("the audit log is busy with other writers; try again")
