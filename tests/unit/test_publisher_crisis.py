"""The publisher's own check of an emergency post (services/publisher/crisis.py): it posts only
with a valid signed start record and the quorum of distinct crisis approvals for the exact content,
audits every refusal, and takes the post down through the live post's takedown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.auth import StaticKeySet
from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import SigningKey, load_or_create_signing_key, sign_record
from services.publisher.channels import SandboxChannel
from services.publisher.crisis import CrisisPublisherActivities
from services.publisher.models import LivePost, Publication
from tests.database import DatabaseFactory
from tests.unit.publisher_fixtures import (
    REVIEW_KEY,
    CrisisPublisher,
    FakeDrafts,
    FakeLiveWorkflows,
    approval_gate,
    draft_version,
    outbox_lines,
)
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import TakedownRequest
from workflows.crisis_contracts import CrisisPublishRequest, CrisisTakedown
from workflows.crisis_signatures import (
    CRISIS_APPROVAL_TYPE,
    CRISIS_MEANING,
    CRISIS_START_TYPE,
    CrisisApproval,
    CrisisStart,
    approval_claims,
    start_claims,
)

NOW = datetime.now(UTC)


@pytest.fixture
async def publisher(tmp_path: Path, database: DatabaseFactory) -> AsyncIterator[CrisisPublisher]:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    audit, workflows, drafts = RecordingAudit(), FakeLiveWorkflows(), FakeDrafts(draft_version())
    activities = CrisisPublisherActivities(
        create_sessionmaker(engine),
        drafts,
        {"sandbox": SandboxChannel(tmp_path / "outbox")},
        approvals=approval_gate(audit),
        live_watch=workflows,
        review_keys=StaticKeySet({REVIEW_KEY.kid: REVIEW_KEY.public_jwk}),
        takedowns=workflows,
    )
    try:
        yield CrisisPublisher(activities, audit, drafts, workflows, tmp_path / "outbox" / "sandbox.jsonl")
    finally:
        await engine.dispose()


def start_record(**changes: object) -> CrisisStart:
    version = draft_version()
    start = CrisisStart(
        crisis_id="crisis-1", draft_id=version.draft_id, version=version.version,
        content_hash=version.content_hash, channels=("sandbox",), author_id=version.author_id,
        starter_id="cris", starter_name="Cris", starter_roles=("crisis",), reason="boil-water notice",
        started_at=NOW.isoformat(), window_seconds=1800, approvers=2, after_review_seconds=86_400,
        categories=("public_health",),
    )  # fmt: skip
    return replace(start, **changes)  # type: ignore[arg-type]


def approval(
    start: CrisisStart, signer: str, *, key: SigningKey = REVIEW_KEY, at: datetime = NOW, **changes: object
) -> str:
    record = CrisisApproval(
        crisis_id=start.crisis_id, draft_id=start.draft_id, version=start.version,
        content_hash=start.content_hash, meaning=CRISIS_MEANING, signer_id=signer,
        signer_name=signer.title(), signer_roles=("crisis",), signer_active=True, signed_at=at.isoformat(),
    )  # fmt: skip
    return sign_record(key, approval_claims(replace(record, **changes)), typ=CRISIS_APPROVAL_TYPE)  # type: ignore[arg-type]


def request(start: CrisisStart, approvals: list[str], **changes: object) -> CrisisPublishRequest:
    publish = CrisisPublishRequest(
        crisis_id=start.crisis_id,
        draft_id=start.draft_id,
        version=start.version,
        content_hash=start.content_hash,
        channels=list(start.channels),
        start=sign_record(REVIEW_KEY, start_claims(start), typ=CRISIS_START_TYPE),
        approvals=approvals,
    )
    return replace(publish, **changes)  # type: ignore[arg-type]


async def test_a_signed_quorum_publishes_once_and_the_post_is_watched(publisher: CrisisPublisher) -> None:
    start = start_record()
    order = request(start, [approval(start, "kai"), approval(start, "noor")])
    env = ActivityEnvironment()

    await env.run(publisher.activities.publish_crisis_post, order)
    await env.run(publisher.activities.publish_crisis_post, order)  # a retry posts nothing twice

    assert len(outbox_lines(publisher.outbox)) == 1
    assert publisher.workflows.watched == ["d-1", "d-1"]
    assert publisher.drafts.consent_asked[0]["categories"] == ["public_health"]
    assert "publish.refused" not in publisher.audit.actions()


def _refusals() -> list[tuple[str, object, str]]:
    start = start_record()
    forger = load_or_create_signing_key(Path(__import__("tempfile").mkdtemp()) / "forger.pem")
    kai, noor = approval(start, "kai"), approval(start, "noor")
    late = NOW + timedelta(minutes=31)
    return [
        ("one approval", request(start, [kai]), "1 of the 2"),
        ("the starter approves", request(start, [kai, approval(start, "cris")]), "starter of a crisis post"),
        ("the author approves", request(start, [kai, approval(start, "author-1")]), "author of the draft"),
        (
            "a non-crisis signer",
            request(start, [kai, approval(start, "leo", signer_roles=("legal",))]),
            "crisis role",
        ),
        ("the same person twice", request(start, [kai, kai]), "more than one approval"),
        (
            "an approval of other content",
            request(start, [kai, approval(start, "noor", content_hash="e" * 64)]),
            "other content",
        ),
        ("an approval after the window", request(start, [kai, approval(start, "noor", at=late)]), "window"),
        ("a forged approval", request(start, [kai, approval(start, "noor", key=forger)]), "does not verify"),
        (
            "a start record for other content",
            request(start_record(content_hash="f" * 64), [kai, noor], content_hash=start.content_hash),
            "other content than this request",
        ),
        (
            "a starter without the crisis role",
            request(start_record(starter_roles=("publisher",)), [kai, noor]),
            "did not hold the crisis role when starting",
        ),
        (
            "another author than the drafts service's",
            request(start_record(author_id="someone-else"), [kai, noor]),
            "the drafts service records",
        ),
    ]


@pytest.mark.parametrize(("case", "order", "why"), _refusals(), ids=[c[0] for c in _refusals()])
async def test_a_crisis_post_without_a_valid_quorum_is_refused_audited_and_not_posted(
    publisher: CrisisPublisher, case: str, order: CrisisPublishRequest, why: str
) -> None:
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(publisher.activities.publish_crisis_post, order)

    assert info.value.type == "ApprovalRefused" and info.value.non_retryable
    assert why in info.value.message, info.value.message
    assert outbox_lines(publisher.outbox) == [] and publisher.workflows.watched == []
    assert publisher.audit.actions() == ["publish.refused"]


async def test_the_after_review_takes_the_post_down_through_the_live_post(publisher: CrisisPublisher) -> None:
    start = start_record()
    env = ActivityEnvironment()
    await env.run(
        publisher.activities.publish_crisis_post,
        request(start, [approval(start, "kai"), approval(start, "noor")]),
    )

    accepted = await env.run(
        publisher.activities.take_down_crisis_post,
        CrisisTakedown("crisis-1", "d-1", "the after-review ended rejected"),
    )
    again = await env.run(
        publisher.activities.take_down_crisis_post, CrisisTakedown("crisis-1", "d-1", "retried")
    )

    assert accepted.status == "requested" and accepted.request_id
    assert publisher.workflows.takedowns == [("d-1", TakedownRequest(request_id=accepted.request_id))]
    assert again.status == "takedown_running"
    [event] = [e for e in publisher.audit.events if e["action"] == "post.takedown_requested"]
    assert event["actor"] == "system:crisis" and "after-review ended rejected" in event["details"]["reason"]
    async with publisher.activities._sessionmaker() as session:
        live = (await session.execute(select(LivePost))).scalar_one()
        assert live.status == "taking_down" and live.takedown_by == "system:crisis"
        assert len((await session.execute(select(Publication))).scalars().all()) == 1
