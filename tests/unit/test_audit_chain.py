"""The audit chain: appends link up, any edit, deletion or reordering is found at its seq."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.audit.activities import AuditActivities
from services.audit.chain import GENESIS_HASH
from services.audit.entries import event_hash
from services.audit.models import AuditEvent
from services.audit.repository import AuditEventRepository
from services.audit.schemas import AuditEventIn, VerifyResult
from services.audit.service import AuditService
from services.audit.writer import AuditLog
from services.kit.db import create_engine, create_sessionmaker
from services.kit.errors import Conflict, Unprocessable, UpstreamUnavailable
from tests.database import DatabaseFactory, DatabaseTarget
from workflows.contracts import POST_APPROVAL_WORKFLOW, AuditEventInput, AuditEventRecorded

DRAFT = "5b0c4f7e-2a51-4b8e-9d65-6f7a1c2b3d4e"


@pytest.fixture
def audit_db(database: DatabaseFactory) -> DatabaseTarget:
    return database("audit")


@pytest.fixture
async def sessionmaker(audit_db: DatabaseTarget) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(audit_db.url, schema=audit_db.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def other_process(audit_db: DatabaseTarget) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second engine on the same database: what a second audit process would hold."""
    engine = create_engine(audit_db.url, schema=audit_db.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def audit_log(sessionmaker: async_sessionmaker[AsyncSession]) -> AuditLog:
    return AuditLog(sessionmaker, backoff=count_into([]))


def count_into(attempts: list[int]) -> Callable[[int], Awaitable[None]]:
    """A backoff that records each retry and yields to the loop instead of sleeping."""

    async def backoff(attempt: int) -> None:
        attempts.append(attempt)
        await asyncio.sleep(0)

    return backoff


def entry(n: int, **overrides: Any) -> AuditEventIn:
    fields: dict[str, Any] = {
        "idempotency_key": f"test:{n}",
        "actor": f"user:{n % 3}",
        "action": "draft.created" if n % 2 else "review.decided",
        "subject": f"draft:{DRAFT}" if n % 2 else f"user:{n}",
        "details": {"n": n, "note": "é ✓", "nested": {"b": [1, 2.5, None], "a": True}},
    }
    fields.update(overrides)
    return AuditEventIn(**fields)


async def append_many(log: AuditLog, count: int) -> None:
    for n in range(1, count + 1):
        await log.append(entry(n))


async def verify(sessionmaker: async_sessionmaker[AsyncSession], *, batch_size: int = 1000) -> VerifyResult:
    async with sessionmaker() as session:
        return await AuditService(session).verify(batch_size=batch_size)


async def execute(sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> None:
    async with sessionmaker() as session:
        await session.execute(text(sql), params)
        await session.commit()


async def all_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEvent]:
    async with sessionmaker() as session:
        rows = await session.execute(select(AuditEvent).order_by(AuditEvent.seq))
        return list(rows.scalars().all())


async def test_chain_of_events_links_from_genesis_and_verifies(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await append_many(audit_log, 7)

    events = await all_events(sessionmaker)
    assert [e.seq for e in events] == list(range(1, 8))
    assert events[0].prev_hash == GENESIS_HASH
    for previous, current in itertools.pairwise(events):
        assert current.prev_hash == previous.hash
    assert events[0].draft_id == DRAFT and events[1].draft_id is None
    first = events[0]
    assert first.hash == event_hash(
        seq=1,
        at=first.at,
        actor="user:1",
        action="draft.created",
        subject=f"draft:{DRAFT}",
        details={"n": 1, "note": "é ✓", "nested": {"a": True, "b": [1, 2.5, None]}},
        idempotency_key="test:1",
        prev_hash=GENESIS_HASH,
    )
    assert first.at.endswith("+00:00") and len(first.at) == 32
    # A batch size smaller than the log makes verify page through it.
    assert await verify(sessionmaker, batch_size=3) == VerifyResult(ok=True, events=7)


async def test_empty_chain_is_valid(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=0)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"n": 4, "note": "edited"}'),
        ("actor", "user:mallory"),
        ("action", "draft.deleted"),
        ("subject", "user:someone-else"),
        ("at", "2020-01-01T00:00:00.000000+00:00"),
        ("idempotency_key", "test:forged"),
    ],
)
async def test_editing_a_row_is_found_at_that_seq(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession], column: str, value: str
) -> None:
    await append_many(audit_log, 6)

    await execute(sessionmaker, f'UPDATE audit_events SET "{column}" = :value WHERE seq = 4', value=value)

    result = await verify(sessionmaker, batch_size=2)
    assert result == VerifyResult(ok=False, events=3, first_bad_seq=4, reason="hash mismatch")


async def test_edit_with_recomputed_hash_is_found_at_the_event(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await append_many(audit_log, 5)
    target = (await all_events(sessionmaker))[2]
    forged = event_hash(
        seq=target.seq,
        at=target.at,
        actor="user:mallory",
        action=target.action,
        subject=target.subject,
        details=target.details,
        idempotency_key=target.idempotency_key,
        prev_hash=target.prev_hash,
    )

    await execute(
        sessionmaker, "UPDATE audit_events SET actor = 'user:mallory', hash = :h WHERE seq = 3", h=forged
    )

    result = await verify(sessionmaker)
    assert not result.ok
    # The chain alone would only notice at the next link; the Merkle tree names the edited event.
    assert (result.first_bad_seq, result.events) == (3, 2)
    assert result.reason is not None and result.reason.startswith("not the event the Merkle tree holds")


async def test_editing_the_stored_hash_is_found(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await append_many(audit_log, 3)

    await execute(sessionmaker, "UPDATE audit_events SET hash = :h WHERE seq = 3", h="f" * 64)

    assert await verify(sessionmaker) == VerifyResult(
        ok=False, events=2, first_bad_seq=3, reason="hash mismatch"
    )


async def test_tampered_draft_id_is_found(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await append_many(audit_log, 3)

    await execute(sessionmaker, "UPDATE audit_events SET draft_id = NULL WHERE seq = 3")

    result = await verify(sessionmaker)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 3, "draft_id does not match subject")


@pytest.mark.parametrize("deleted", [1, 3])
async def test_deleting_a_row_is_found_as_a_gap(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession], deleted: int
) -> None:
    await append_many(audit_log, 5)

    await execute(sessionmaker, "DELETE FROM audit_events WHERE seq = :seq", seq=deleted)

    result = await verify(sessionmaker, batch_size=2)
    assert result == VerifyResult(
        ok=False,
        events=deleted - 1,
        first_bad_seq=deleted + 1,
        reason=f"gap before seq {deleted + 1} (expected seq {deleted})",
    )


SWAP_ALL = ("at", "actor", "action", "subject", "draft_id", "details", "idempotency_key", "prev_hash", "hash")
SWAP_CONTENT = ("actor", "action", "subject", "draft_id", "details")


@pytest.mark.parametrize(
    ("columns", "reason"),
    [(SWAP_ALL, "broken link"), (SWAP_CONTENT, "hash mismatch")],
    ids=["whole-rows", "content-only"],
)
async def test_swapping_two_rows_is_found_at_the_first_of_them(
    audit_log: AuditLog,
    sessionmaker: async_sessionmaker[AsyncSession],
    columns: tuple[str, ...],
    reason: str,
) -> None:
    await append_many(audit_log, 5)
    rows = {e.seq: e for e in await all_events(sessionmaker)}

    def values(event: AuditEvent) -> dict[str, Any]:
        return {c: json.dumps(v) if c == "details" else v for c in columns for v in [getattr(event, c)]}

    assignments = ", ".join(f'"{c}" = :{c}' for c in columns)
    if "idempotency_key" in columns:  # park it so the unique constraint holds during the swap
        await execute(sessionmaker, "UPDATE audit_events SET idempotency_key = 'parked' WHERE seq = 2")
    await execute(sessionmaker, f"UPDATE audit_events SET {assignments} WHERE seq = 3", **values(rows[2]))
    await execute(sessionmaker, f"UPDATE audit_events SET {assignments} WHERE seq = 2", **values(rows[3]))
    swapped = {e.seq: e for e in await all_events(sessionmaker)}
    assert (swapped[2].actor, swapped[3].actor) == (rows[3].actor, rows[2].actor)

    result = await verify(sessionmaker)
    assert not result.ok
    assert (result.first_bad_seq, result.events) == (2, 1)
    assert result.reason is not None and result.reason.startswith(reason)


async def test_reusing_a_key_returns_the_original_event(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await audit_log.append(entry(1))
    await audit_log.append(entry(2))

    again = await audit_log.append(entry(1))

    assert first.created and not again.created
    assert again.event == first.event
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 2


@pytest.mark.parametrize(
    "change",
    [{"actor": "user:other"}, {"action": "other"}, {"subject": "user:9"}, {"details": {"n": 2}}],
)
async def test_reusing_a_key_for_a_different_event_conflicts(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession], change: dict[str, Any]
) -> None:
    await audit_log.append(entry(1))

    with pytest.raises(Conflict):
        await audit_log.append(entry(1, **change))

    assert len(await all_events(sessionmaker)) == 1


async def test_details_must_be_plain_json(audit_log: AuditLog) -> None:
    with pytest.raises(Unprocessable):
        await audit_log.append(entry(1, details={"x": math.nan}))


async def test_fifty_concurrent_appends_form_one_chain(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    retries: list[int] = []

    async def record_retry(attempt: int) -> None:
        retries.append(attempt)

    audit_log = AuditLog(sessionmaker, backoff=record_retry)
    results = await asyncio.gather(*(audit_log.append(entry(n)) for n in range(1, 51)))

    assert sorted(r.event.seq for r in results) == list(range(1, 51))
    assert retries == []  # the in-process lock serializes them; nobody lost a race
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=50)


async def test_writers_in_two_processes_form_one_gap_free_chain(
    sessionmaker: async_sessionmaker[AsyncSession], other_process: async_sessionmaker[AsyncSession]
) -> None:
    # Two AuditLogs with their own locks and engines stand for two audit processes. Every lost
    # race means the other process committed an event, so 41 attempts can never run out here.
    one = AuditLog(sessionmaker, attempts=41, backoff=count_into([]))
    two = AuditLog(other_process, attempts=41, backoff=count_into([]))

    results = await asyncio.gather(
        *(one.append(entry(n)) for n in range(1, 21)),
        *(two.append(entry(n)) for n in range(21, 41)),
    )

    assert all(r.created for r in results)
    assert sorted(r.event.seq for r in results) == list(range(1, 41))  # no seq twice, none missing
    events = await all_events(sessionmaker)
    assert [e.seq for e in events] == list(range(1, 41))
    assert sorted(e.idempotency_key for e in events) == sorted(f"test:{n}" for n in range(1, 41))
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=40)


async def test_two_processes_reading_the_same_tail_fork_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worst interleaving, forced: both processes read the same tail before either inserts.
    await append_many(AuditLog(sessionmaker), 2)
    retries: list[int] = []
    one = AuditLog(sessionmaker, backoff=count_into(retries))
    two = AuditLog(other_process, backoff=count_into(retries))
    both_read = asyncio.Barrier(2)
    tails_seen: list[int | None] = []
    real_tail = AuditEventRepository.tail

    async def tail_together(self: AuditEventRepository) -> AuditEvent | None:
        found = await real_tail(self)
        if len(tails_seen) < 2:
            tails_seen.append(found.seq if found else None)
            await both_read.wait()
        return found

    monkeypatch.setattr(AuditEventRepository, "tail", tail_together)
    first, second = await asyncio.gather(one.append(entry(3)), two.append(entry(4)))

    assert tails_seen == [2, 2]
    assert retries == [0]  # exactly one of them lost seq 3 and linked after the winner
    assert sorted((first.event.seq, second.event.seq)) == [3, 4]
    events = await all_events(sessionmaker)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[3].prev_hash == events[2].hash
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=4)


async def test_the_same_key_from_two_processes_at_once_is_one_event(
    sessionmaker: async_sessionmaker[AsyncSession],
    other_process: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await append_many(AuditLog(sessionmaker), 1)
    one = AuditLog(sessionmaker, backoff=count_into([]))
    two = AuditLog(other_process, backoff=count_into([]))
    both_looked = asyncio.Barrier(2)
    lookups = 0
    real_lookup = AuditEventRepository.get_by_idempotency_key

    async def look_up_together(self: AuditEventRepository, key: str) -> AuditEvent | None:
        nonlocal lookups
        found = await real_lookup(self, key)
        lookups += 1
        if lookups <= 2:
            assert found is None
            await both_looked.wait()  # neither has inserted yet: both will try to
        return found

    monkeypatch.setattr(AuditEventRepository, "get_by_idempotency_key", look_up_together)
    results = await asyncio.gather(one.append(entry(7)), two.append(entry(7)))

    assert sorted(r.created for r in results) == [False, True]
    assert results[0].event == results[1].event
    events = await all_events(sessionmaker)
    assert [(e.seq, e.idempotency_key) for e in events] == [(1, "test:1"), (2, "test:7")]
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=2)


async def test_the_same_keys_from_two_processes_freely_are_recorded_once(
    sessionmaker: async_sessionmaker[AsyncSession], other_process: async_sessionmaker[AsyncSession]
) -> None:
    one = AuditLog(sessionmaker, attempts=31, backoff=count_into([]))
    two = AuditLog(other_process, attempts=31, backoff=count_into([]))

    results = await asyncio.gather(
        *(one.append(entry(n)) for n in range(1, 16)), *(two.append(entry(n)) for n in range(1, 16))
    )

    assert sum(r.created for r in results) == 15
    by_key: dict[str, set[int]] = {}
    for r in results:
        by_key.setdefault(r.event.idempotency_key, set()).add(r.event.seq)
    assert all(len(seqs) == 1 for seqs in by_key.values())  # both callers got the same event back
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=15)


async def test_losing_the_race_for_a_seq_retries_on_the_new_tail(
    audit_log: AuditLog,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await append_many(audit_log, 2)
    rival = AuditLog(sessionmaker)
    real_tail = AuditEventRepository.tail
    raced = False

    async def tail_then_rival_commits(self: AuditEventRepository) -> AuditEvent | None:
        nonlocal raced
        found = await real_tail(self)
        if not raced:
            raced = True
            await rival.append(entry(99))
        return found

    monkeypatch.setattr(AuditEventRepository, "tail", tail_then_rival_commits)
    mine = await audit_log.append(entry(3))

    assert raced and mine.created and mine.event.seq == 4
    events = await all_events(sessionmaker)
    assert [(e.seq, e.idempotency_key) for e in events][2:] == [(3, "test:99"), (4, "test:3")]
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=4)


async def test_a_writer_that_always_loses_gives_up(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    backoffs: list[int] = []

    async def record_backoff(attempt: int) -> None:
        backoffs.append(attempt)

    loser = AuditLog(sessionmaker, attempts=3, backoff=record_backoff)
    rival = AuditLog(sessionmaker)
    real_tail = AuditEventRepository.tail
    rival_keys = iter(range(100, 200))

    rival_writing = False

    async def tail_then_rival_commits(self: AuditEventRepository) -> AuditEvent | None:
        nonlocal rival_writing
        found = await real_tail(self)
        if not rival_writing:
            rival_writing = True
            try:
                await rival.append(entry(next(rival_keys)))
            finally:
                rival_writing = False
        return found

    monkeypatch.setattr(AuditEventRepository, "tail", tail_then_rival_commits)
    with pytest.raises(UpstreamUnavailable):
        await loser.append(entry(1))

    assert backoffs == [0, 1, 2]
    assert await verify(sessionmaker) == VerifyResult(ok=True, events=3)


async def test_orm_refuses_to_update_an_event(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await audit_log.append(entry(1))
    async with sessionmaker() as session:
        event = await session.get_one(AuditEvent, 1)
        event.actor = "user:mallory"
        with pytest.raises(RuntimeError, match="append-only"):
            await session.flush()


def workflow_activity_env(
    draft_id: str = DRAFT, workflow_type: str = POST_APPROVAL_WORKFLOW
) -> ActivityEnvironment:
    """An activity run as the approval workflow of `draft_id` schedules it."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"draft-{draft_id}", workflow_type=workflow_type)
    return env


async def test_activity_appends_idempotently(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    activities = AuditActivities(audit_log)
    env = workflow_activity_env()
    event = AuditEventInput(
        idempotency_key="wf:draft-1:submitted",
        actor="user:7",
        action="draft.submitted",
        subject=f"draft:{DRAFT}",
        details={"version": 2},
    )

    recorded = await env.run(activities.append_audit_event, event)
    retried = await env.run(activities.append_audit_event, event)

    assert isinstance(recorded, AuditEventRecorded)
    assert recorded.seq == 1 and retried == recorded
    stored = (await all_events(sessionmaker))[0]
    assert (stored.hash, stored.draft_id) == (recorded.hash, DRAFT)
    assert stored.details == {"version": 2, "workflow_id": f"draft-{DRAFT}"}  # Temporal's id, not the input's


@pytest.mark.parametrize(
    ("subject", "workflow_type"),
    [
        ("draft:another-draft", POST_APPROVAL_WORKFLOW),
        (f"draft:{DRAFT}", "EvilWorkflow"),
        ("user:7", POST_APPROVAL_WORKFLOW),
    ],
    ids=["other-draft", "other-workflow-type", "not-a-draft"],
)
async def test_activity_records_only_an_approval_workflows_own_draft(
    audit_log: AuditLog, sessionmaker: async_sessionmaker[AsyncSession], subject: str, workflow_type: str
) -> None:
    """Attack: a client with Temporal access schedules the audit activity to write events by anyone."""
    event = AuditEventInput(idempotency_key="k", actor="u-admin", action="draft.approved", subject=subject)

    with pytest.raises(ApplicationError) as caught:
        await workflow_activity_env(workflow_type=workflow_type).run(
            AuditActivities(audit_log).append_audit_event, event
        )

    assert caught.value.non_retryable and caught.value.type == "Forbidden"
    assert await all_events(sessionmaker) == []


@pytest.mark.parametrize(
    ("event", "error_type"),
    [
        (
            AuditEventInput(idempotency_key="k", actor="user:8", action="a", subject=f"draft:{DRAFT}"),
            "Conflict",
        ),
        (AuditEventInput(idempotency_key="k2", actor="", action="a", subject=f"draft:{DRAFT}"), "Invalid"),
        (
            AuditEventInput(
                idempotency_key="k3", actor="u", action="a", subject=f"draft:{DRAFT}", details={"x": math.inf}
            ),
            "Invalid",
        ),
    ],
    ids=["conflict", "invalid-field", "invalid-details"],
)
async def test_activity_refusals_are_not_retried(
    audit_log: AuditLog, event: AuditEventInput, error_type: str
) -> None:
    activities = AuditActivities(audit_log)
    env = workflow_activity_env()
    await env.run(
        activities.append_audit_event,
        AuditEventInput(idempotency_key="k", actor="user:7", action="a", subject=f"draft:{DRAFT}"),
    )

    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.append_audit_event, event)

    assert caught.value.non_retryable and caught.value.type == error_type
