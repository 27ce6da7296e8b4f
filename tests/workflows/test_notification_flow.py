"""A reminder the workflow's timer raises ends up as an e-mail and an inbox item: the workflow on the
time-skipping server, the review service's real activities keeping its outbox (SQLite and
PostgreSQL), the deliverer sending to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import ReviewNotice, Screening
from services.review.notifications.deliverer import Deliverer
from services.review.notifications.mailer import Mailer, SmtpSettings
from services.review.notifications.schemas import Preferences
from services.review.notifications.service import NotificationService
from services.review.policy import load_policy_file
from tests.database import DatabaseFactory
from tests.smtp import SmtpServer
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import SIGNER, FakeVersions
from tests.workflows.approval_fixtures import decide, decision, start, version, wait_status
from tests.workflows.fakes import AUTHOR, FakeServices, running_fakes
from workflows.contracts import ReviewSchedule, StageRequirement, StageTiming

HOUR = 3600
CASEY = Principal("u-casey", "casey", "Casey Compliance", frozenset({"compliance"}))


@pytest.fixture
async def review_db(database: DatabaseFactory) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def notices(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = (await session.execute(select(ReviewNotice).order_by(ReviewNotice.created_at))).scalars()
        return [(r.stage, r.kind) for r in rows]


async def wait_for_notice(sessionmaker: async_sessionmaker[AsyncSession], kind: str) -> None:
    for _ in range(200):
        if any(k == kind for _, k in await notices(sessionmaker)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {kind} notice was recorded")


async def test_a_workflow_reminder_arrives_by_email_and_in_the_inbox(
    time_skipping_env: WorkflowEnvironment, review_db: async_sessionmaker[AsyncSession]
) -> None:
    env = time_skipping_env
    policy = load_policy_file(DEFAULT_POLICY_FILE)
    real = ReviewActivities(review_db, policy, FakeVersions(), signer=SIGNER)  # type: ignore[arg-type]
    fakes = FakeServices(
        stages=[StageRequirement("compliance", ["compliance"])],
        schedule=ReviewSchedule(stages=[StageTiming("compliance", 24 * HOUR, [12 * HOUR], escalates=False)]),
    )
    # The review service's own activities keep the tasks and the outbox; the rest stays fake.
    fakes.open_tasks = real.open_review_tasks  # type: ignore[method-assign]
    fakes.close_tasks = real.close_review_tasks  # type: ignore[method-assign]
    fakes.record_notice = real.record_review_notice  # type: ignore[method-assign]
    async with review_db() as session, session.begin():
        # The screening the fake screen activity names: the author of the tasks comes from it.
        session.add(
            Screening(
                id="screening-1", draft_id="d", version=1, content_hash="a" * 64,
                policy_version=policy.version,
                categories=[], products=[], findings=[], blocking=False, author_id=AUTHOR,
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        service = NotificationService(session, audit=RecordingAudit())
        await service.set_preferences(CASEY, Preferences(email="casey@clinic.example"))

    with SmtpServer() as smtp:
        async with httpx.AsyncClient() as http, running_fakes(env.client, fakes):
            mailer = Mailer(SmtpSettings("127.0.0.1", smtp.port, "reviews@clinic.example", starttls=False))
            deliverer = Deliverer(review_db, public_url="https://clear.example", mailer=mailer, http=http)
            handle = await start(env, version())
            await wait_status(handle, "in_review")
            await env.sleep(timedelta(hours=13))  # past the 12 h reminder
            await wait_for_notice(review_db, "reminder")
            await deliverer.deliver()

            kinds = [m["X-Clearpost-Event"] for m in smtp.to("casey@clinic.example")]
            assert kinds == ["review.requested", "review.reminder"]
            reminder = smtp.to("casey@clinic.example")[1]
            assert "Stage: compliance" in reminder.get_content()
            async with review_db() as session:
                inbox = await NotificationService(session, audit=RecordingAudit()).inbox(CASEY)
            assert [i.event.kind for i in inbox.items] == ["review.reminder", "review.requested"]
            assert inbox.items[0].event.draft_id == handle.id.removeprefix("draft-")

            # Approved and published: the author's notices (the author has no address: inbox only).
            now = await env.get_current_time()
            await decide(handle, decision("compliance", "carol", ["compliance"], signed_at=now))
            await handle.result()
            await deliverer.deliver()
            assert [k for s, k in await notices(review_db) if not s] == ["approved", "published"]
            author = Principal(AUTHOR, "author", "Avery", frozenset({"author"}))
            async with review_db() as session:
                inbox = await NotificationService(session, audit=RecordingAudit()).inbox(author)
            assert sorted(i.event.kind for i in inbox.items) == ["draft.approved", "draft.published"]
            assert len(smtp.messages) == 2  # nothing more by e-mail: a second pass sends nothing twice
