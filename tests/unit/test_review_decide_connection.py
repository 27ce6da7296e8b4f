"""A decision never holds a pooled connection while it waits for the workflow (issue #13).

The `decide` update's handler runs this service's own `record_decision` activity, which needs a
connection from the same pool: a request holding one across the update deadlocked the service
at about 15 decisions in flight. The fake workflow here checks, at the moment of the update, that
the request's session holds no connection, and takes a connection from the pool itself, as the
activity would, from a pool of one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.tokens import Principal, load_key_ring
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import ReviewTask
from services.review.policy import load_policy_file
from services.review.schemas import DecisionIn
from services.review.service import ReviewService
from services.review.signing import KEY_NAME, ReviewSigner
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import DecisionAccepted, DecisionRequest

HASH = "c" * 64
REVIEWER = Principal(user_id="u-compliance", username="c@demo", name="C", roles=frozenset({"compliance"}))


@dataclass
class ActivityLikeHandle:
    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]
    seen: list[bool] = field(default_factory=list)

    async def execute_update(self, name: str, request: DecisionRequest, result_type: Any = None) -> Any:
        self.seen.append(self.session.in_transaction())
        async with session_scope(self.sessionmaker) as activity_session:  # record_decision's own unit
            await activity_session.execute(text("SELECT 1"))
        return DecisionAccepted(request.stage, request.decision, "approved", "in_review", "now")


@dataclass
class OneHandleTemporal:
    handle: ActivityLikeHandle

    def get_workflow_handle(self, workflow_id: str) -> ActivityLikeHandle:
        return self.handle


class Confirms:
    async def confirms(self, username: str, password: str) -> bool:
        return True


class DraftAuthors:
    """The drafts service's answer about who wrote the draft (another call a request must not hold
    a connection across)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.seen: list[bool] = []

    async def author_of(self, draft_id: str, version: int) -> str:
        self.seen.append(self.session.in_transaction())
        return "u-author"


@pytest.fixture
def pool_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_DB_POOL_SIZE", "1")
    monkeypatch.setenv("CLEARPOST_DB_POOL_OVERFLOW", "0")
    monkeypatch.setenv("CLEARPOST_DB_POOL_TIMEOUT_SECONDS", "2")


async def test_decide_gives_its_connection_back_before_the_update(
    database: DatabaseFactory, pool_of_one: None, tmp_path: Path
) -> None:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with session_scope(sessionmaker) as session:
            session.add(
                ReviewTask(
                    id=str(uuid.uuid4()), draft_id="d1", version=1, content_hash=HASH, stage="compliance",
                    roles=["compliance"], author_id="u-author", policy_version="p", screening_id="",
                    status="open", opened_at=datetime.now(UTC),
                )
            )  # fmt: skip
        async with session_scope(sessionmaker) as session:
            handle = ActivityLikeHandle(session, sessionmaker)
            drafts = DraftAuthors(session)
            service = ReviewService(
                session,
                policy=load_policy_file(DEFAULT_POLICY_FILE),
                audit=RecordingAudit(),  # type: ignore[arg-type]
                temporal=OneHandleTemporal(handle),  # type: ignore[arg-type]
                credentials=Confirms(),  # type: ignore[arg-type]
                signer=ReviewSigner(load_key_ring(tmp_path, KEY_NAME)),
                drafts=drafts,  # type: ignore[arg-type]
            )
            decided = await service.decide(
                "d1",
                DecisionIn(stage="compliance", decision="approve", content_hash=HASH, password="pw"),
                REVIEWER,
            )
        assert decided.stage_status == "approved"
        assert handle.seen == [False], "the request held a transaction (and its connection) across the update"
        assert drafts.seen == [False], "the request held a connection across the drafts service's answer"
    finally:
        await engine.dispose()
