"""The whole listening flow on the time-skipping server with the real activities: a side-effect
comment on the Meta Graph fake is read by the publisher's ingest (its database), screened by the
review service's screener (its database), and becomes an adverse-event case with its clocks within
one poll; the hand-off reminder fires on the durable timer; the case exports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.publisher.comment_activities import CommentActivities as PublisherCommentActivities
from services.publisher.comment_ingest import CommentIngest, CommentSeal
from services.publisher.comments import CommentService
from services.publisher.networks.base import AccountCredentials, PostRequest
from services.publisher.networks.facebook import FacebookAdapter
from services.review.ae_case_export import case_document
from services.review.ae_case_repository import AeCaseRepository
from services.review.comment_activities import CommentActivities as ReviewCommentActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import load_policy_file
from services.review.screening.engine import Screener
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.networks.meta import create_app
from tests.fakes.networks.meta_state import FakeMeta
from tests.fakes.serve import ServedApp
from tests.unit.comment_support import add_publication
from tests.unit.meta_support import ALL_SCOPES, PAGE_ID, REDIRECT_URI, FakeClock, MetaWorld
from tests.unit.recording_audit import RecordingAudit
from tests.workflows.comment_fakes import own_time_skipping_server
from workflows.comment_contracts import (
    COMMENT_INGEST_WORKFLOW,
    HANDOFF_CLOCK,
    REMINDER,
    CommentIngestInput,
    ingest_workflow_id,
)
from workflows.contracts import PUBLISHER_TASK_QUEUE, REVIEW_TASK_QUEUE, WORKFLOW_TASK_QUEUE
from workflows.worker import build_worker

pytest_plugins = ["tests.unit.comment_fixtures"]

ACCOUNT = "riverside-fb"


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's own server, not the session's (see own_time_skipping_server)."""
    async with own_time_skipping_server() as env:
        yield env


@pytest.fixture
def meta() -> Iterator[MetaWorld]:
    clock = FakeClock()
    fake = FakeMeta(clock=clock.now, redirect_uris=(REDIRECT_URI,))
    fake.add_user("user-1")
    fake.add_page(PAGE_ID, "Riverside Clinic")
    with ServedApp(create_app(fake)) as served:
        yield MetaWorld(fake, served, clock)


class PublisherCommentSource:
    """The publisher's internal comment read, in process (the HTTP route renders the same)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], comments: Any) -> None:
        self._sessions = sessions
        self._comments = comments

    async def comment(self, comment_id: str) -> dict[str, Any]:
        async with self._sessions() as session:
            service: CommentService = self._comments(session)
            comment = await service.get(comment_id)
            return {
                "network": comment.network,
                "account": comment.account,
                "draft_id": comment.draft_id,
                "author": comment.author,
                "url": comment.url,
                "text": service.text_of(comment),
                "read_at": comment.read_at.isoformat(),
            }


async def until(condition: Any, seconds: float = 30.0) -> None:
    for _ in range(int(seconds * 10)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_a_side_effect_comment_on_the_meta_fake_becomes_a_case_within_one_poll(
    time_skipping_env: WorkflowEnvironment,
    meta: MetaWorld,
    publisher_sessions: async_sessionmaker[AsyncSession],
    review_sessions: async_sessionmaker[AsyncSession],
    comment_seal: CommentSeal,
) -> None:
    env = time_skipping_env
    fb = FacebookAdapter(meta.config(), sleep=meta.clock.sleep, clock=meta.clock.now)
    account = await fb.account_from_grant(
        "Riverside", {"access_token": meta.fake.issue_token("user-1", ALL_SCOPES).value}, target=PAGE_ID
    )
    posted = await fb.post(account, PostRequest("p-1", "i-1", "Ask us about Cardiozen."), MemoryCheckpoints())
    await add_publication(
        publisher_sessions, account=ACCOUNT, network="facebook", external_id=posted.external_id
    )
    meta.fake.comment(
        posted.external_id, "I started Cardiozen last month and my hair fell out", author="Jordan Lee"
    )
    meta.fake.comment(posted.external_id, "Thanks for the info!", author="Sam")

    async def credentials(name: str) -> AccountCredentials:
        return account

    audit = RecordingAudit()

    def comments(session: AsyncSession) -> CommentService:
        return CommentService(
            session, seal=comment_seal, adapters={"facebook": fb}, accounts=None, audit=audit
        )  # type: ignore[arg-type]

    # The read time on the test server's clock (ahead of the wall clock after earlier skips).
    offset = await env.get_current_time() - datetime.now(UTC)
    ingest = CommentIngest(
        publisher_sessions,
        {"facebook": fb},
        credentials,
        comment_seal,
        clock=lambda: datetime.now(UTC) + offset,
    )
    publisher = PublisherCommentActivities(publisher_sessions, ingest, comments)
    policy = load_policy_file(DEFAULT_POLICY_FILE)
    review = ReviewCommentActivities(
        review_sessions,
        policy,
        PublisherCommentSource(publisher_sessions, comments),
        audit,
        screener=Screener(policy),
    )
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(build_worker(env.client))
        await stack.enter_async_context(
            Worker(
                env.client,
                task_queue=PUBLISHER_TASK_QUEUE,
                activities=[publisher.ingest_comments, publisher.record_comment_screening],
            )
        )
        await stack.enter_async_context(
            Worker(env.client, task_queue=REVIEW_TASK_QUEUE, activities=review.all)
        )
        with env.auto_time_skipping_disabled():
            await env.client.start_workflow(
                COMMENT_INGEST_WORKFLOW,
                CommentIngestInput(ACCOUNT, poll_seconds=300),
                id=ingest_workflow_id(ACCOUNT),
                task_queue=WORKFLOW_TASK_QUEUE,
            )

            async def two_screened() -> bool:
                return audit.actions().count("comment.screened") == 2

            await until(two_screened)
        async with review_sessions() as session:
            [case] = await AeCaseRepository(session).cases()
            assert case.network == "facebook" and case.missing == []
            assert case.handoff_due - case.day0 == timedelta(hours=24)
            assert case.regulatory_due - case.day0 == timedelta(days=15)
        assert audit.actions().count("ae_case.opened") == 1
        # The listener stops; the case's workflow, a child that outlives it, keeps the time.
        await env.client.get_workflow_handle(ingest_workflow_id(ACCOUNT)).terminate()
        # 20 h after day 0 the hand-off reminder fires on the durable timer.
        await env.sleep(timedelta(hours=21))

        async def reminded() -> bool:
            return "ae_case.reminder" in audit.actions()

        await until(reminded)
        async with review_sessions() as session:
            repo = AeCaseRepository(session)
            events = await repo.events(case.id)
            document = case_document(case, events, await repo.screening(case.screening_id))
        assert [e.kind for e in events] == ["opened", REMINDER]
        assert events[1].details["clock"] == HANDOFF_CLOCK
        assert document["minimum_elements"]["reporter"] == "Jordan Lee on facebook"
        await env.client.get_workflow_handle(f"ae-case-{case.comment_id}").terminate()
