from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import DECISION_TYPE, load_or_create_signing_key, sign_record
from services.publisher.activities import PublisherActivities
from services.publisher.channels import OutgoingPost, SandboxChannel
from services.publisher.models import Publication
from services.publisher.repository import PublicationRepository
from services.publisher.schemas import ConsentVerdict
from tests.database import DatabaseFactory, DatabaseTarget
from tests.unit.publisher_fixtures import (
    REVIEW_KEY,
    FakeDrafts,
    RecordingAudit,
    approval_gate,
    draft_version,
    outbox_lines,
    signed_approval,
    signed_request,
)
from workflows.contracts import PublishRequest, PublishResult


class Crash(Exception):
    """Stands in for the worker process dying at a given point."""


class CountingSandbox(SandboxChannel):
    def __init__(self, outbox_dir: Path) -> None:
        super().__init__(outbox_dir)
        self.posts = 0

    async def post(self, publication: OutgoingPost) -> str:
        self.posts += 1
        return await super().post(publication)


class AsksTogether(SandboxChannel):
    """Holds every attempt at `already_posted` until all have asked: the worst interleaving.

    Workers in different processes each have their own channel object; they share the barrier.
    """

    def __init__(self, outbox_dir: Path, barrier: asyncio.Barrier) -> None:
        super().__init__(outbox_dir)
        self._barrier = barrier

    async def already_posted(self, publication_id: str) -> str | None:
        answer = await super().already_posted(publication_id)
        await self._barrier.wait()
        return answer


class DiesBeforePost(SandboxChannel):
    async def post(self, publication: OutgoingPost) -> str:
        raise Crash("died after committing the pending row, before writing the post")


class DiesAfterPost(SandboxChannel):
    async def post(self, publication: OutgoingPost) -> str:
        await super().post(publication)
        raise Crash("died after writing the post, before marking the row published")


@dataclass
class Publisher:
    sessionmaker: async_sessionmaker[AsyncSession]
    outbox_dir: Path
    drafts: FakeDrafts
    target: DatabaseTarget

    @property
    def outbox(self) -> Path:
        return self.outbox_dir / "sandbox.jsonl"

    def activities(self, channel: SandboxChannel | None = None) -> PublisherActivities:
        sandbox = channel or SandboxChannel(self.outbox_dir)
        return PublisherActivities(
            self.sessionmaker, self.drafts, {"sandbox": sandbox}, approvals=approval_gate()
        )

    async def rows(self) -> list[Publication]:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(Publication))).scalars().all())


@pytest.fixture
async def publisher(tmp_path: Path, database: DatabaseFactory) -> AsyncIterator[Publisher]:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    try:
        yield Publisher(create_sessionmaker(engine), tmp_path / "outbox", FakeDrafts(draft_version()), target)
    finally:
        await engine.dispose()


@pytest.fixture
async def other_worker(publisher: Publisher) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second engine on the same database: what a publisher worker in another process holds."""
    engine = create_engine(publisher.target.url, schema=publisher.target.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


def request_for(version_hash: str, channels: tuple[str, ...] = ("sandbox",)) -> PublishRequest:
    return signed_request("d-1", 1, version_hash, list(channels))


def approved_request() -> PublishRequest:
    return request_for(draft_version().content_hash)


async def test_publish_writes_one_row_and_one_outbox_line(publisher: Publisher) -> None:
    request = approved_request()

    result = await ActivityEnvironment().run(publisher.activities().publish_post, request)

    assert isinstance(result, PublishResult)
    [ref] = result.publications
    assert (ref.channel, ref.status) == ("sandbox", "published")
    [row] = await publisher.rows()
    assert row.id == ref.publication_id
    assert (row.draft_id, row.version, row.channel, row.status) == ("d-1", 1, "sandbox", "published")
    assert row.content_hash == request.content_hash
    assert row.external_id == f"sandbox:{row.id}"
    assert row.published_at is not None
    [line] = outbox_lines(publisher.outbox)
    version = draft_version()
    assert line == {
        "publication_id": row.id,
        "draft_id": "d-1",
        "version": 1,
        "channel": "sandbox",
        "content_hash": request.content_hash,
        "title": version.title,
        "body": version.body,
        "media": [],
        "published_at": line["published_at"],
    }


async def test_publishing_again_posts_nothing_new(publisher: Publisher) -> None:
    sandbox = CountingSandbox(publisher.outbox_dir)
    activities = publisher.activities(sandbox)

    first = await activities.publish_post(approved_request())
    second = await activities.publish_post(approved_request())

    assert second == first
    assert sandbox.posts == 1
    assert len(outbox_lines(publisher.outbox)) == 1
    assert len(await publisher.rows()) == 1


async def test_retry_after_dying_before_the_post_posts_exactly_once(publisher: Publisher) -> None:
    with pytest.raises(Crash):
        await publisher.activities(DiesBeforePost(publisher.outbox_dir)).publish_post(approved_request())
    [row] = await publisher.rows()
    assert row.status == "pending"
    assert outbox_lines(publisher.outbox) == []

    sandbox = CountingSandbox(publisher.outbox_dir)
    result = await publisher.activities(sandbox).publish_post(approved_request())

    assert sandbox.posts == 1
    [line] = outbox_lines(publisher.outbox)
    [row] = await publisher.rows()
    assert (row.status, line["publication_id"]) == ("published", row.id)
    assert result.publications[0].publication_id == row.id


async def test_retry_after_dying_before_marking_does_not_post_again(publisher: Publisher) -> None:
    with pytest.raises(Crash):
        await publisher.activities(DiesAfterPost(publisher.outbox_dir)).publish_post(approved_request())
    [row] = await publisher.rows()
    assert row.status == "pending"
    [line] = outbox_lines(publisher.outbox)
    assert line["publication_id"] == row.id

    sandbox = CountingSandbox(publisher.outbox_dir)
    result = await publisher.activities(sandbox).publish_post(approved_request())

    assert sandbox.posts == 0  # the channel already had it, so it was never asked to post
    assert len(outbox_lines(publisher.outbox)) == 1
    [row] = await publisher.rows()
    assert (row.status, row.external_id) == ("published", f"sandbox:{row.id}")
    assert result.publications[0].status == "published"


@pytest.mark.parametrize("tampered", ["request_hash", "stored_text"])
async def test_content_that_does_not_match_the_approved_hash_is_refused(
    publisher: Publisher, tampered: str
) -> None:
    request = approved_request()
    if tampered == "request_hash":
        request = request_for("0" * 64)
    else:
        # The drafts service answers with the approved hash but different text.
        changed = draft_version(body="Walk-in flu vaccinations, now with free samples!")
        publisher.drafts.versions[("d-1", 1)] = changed.model_copy(
            update={"content_hash": request.content_hash}
        )

    with pytest.raises(ApplicationError) as refused:
        await publisher.activities().publish_post(request)

    assert refused.value.type == "ContentMismatch"
    assert refused.value.non_retryable
    assert await publisher.rows() == []
    assert outbox_lines(publisher.outbox) == []


async def test_concurrent_attempts_post_once(
    publisher: Publisher, other_worker: async_sessionmaker[AsyncSession]
) -> None:
    # Two workers (own engine, own channel object, same outbox) get the same activity at once.
    asked = asyncio.Barrier(2)
    first = publisher.activities(AsksTogether(publisher.outbox_dir, asked))
    second = PublisherActivities(
        other_worker,
        FakeDrafts(draft_version()),
        {"sandbox": AsksTogether(publisher.outbox_dir, asked)},
        approvals=approval_gate(),
    )

    results = await asyncio.gather(
        first.publish_post(approved_request()), second.publish_post(approved_request())
    )

    assert len({r.publications[0].publication_id for r in results}) == 1
    assert len(outbox_lines(publisher.outbox)) == 1
    [row] = await publisher.rows()
    assert row.status == "published"


async def test_two_workers_inserting_the_same_publication_keep_one_row(
    publisher: Publisher, other_worker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Forced: both workers look for the row before either has inserted it, so both insert; the
    # loser's insert waits for the winner's commit, fails on the unique constraint, and the loser
    # reads the winner's row instead.
    looked = asyncio.Barrier(2)
    lookups: list[Publication | None] = []
    real_get_for = PublicationRepository.get_for

    async def look_together(
        self: PublicationRepository, draft_id: str, version: int, channel: str
    ) -> Publication | None:
        found = await real_get_for(self, draft_id, version, channel)
        lookups.append(found)
        if len(lookups) <= 2:
            await looked.wait()
        return found

    monkeypatch.setattr(PublicationRepository, "get_for", look_together)
    first = publisher.activities()
    second = PublisherActivities(
        other_worker,
        FakeDrafts(draft_version()),
        {"sandbox": SandboxChannel(publisher.outbox_dir)},
        approvals=approval_gate(),
    )

    results = await asyncio.gather(
        first.publish_post(approved_request()), second.publish_post(approved_request())
    )

    [row] = await publisher.rows()
    # Two empty lookups, then the loser's second look after its insert was refused.
    assert lookups[:2] == [None, None] and len(lookups) == 3
    assert lookups[2] is not None and lookups[2].id == row.id
    assert row.status == "published"
    assert [r.publications[0].publication_id for r in results] == [row.id, row.id]
    [line] = outbox_lines(publisher.outbox)
    assert line["publication_id"] == row.id


async def test_unconfigured_channel_is_refused_before_anything_happens(publisher: Publisher) -> None:
    request = request_for(draft_version().content_hash, channels=("sandbox", "mastodon"))

    with pytest.raises(ApplicationError) as refused:
        await publisher.activities().publish_post(request)

    assert (refused.value.type, refused.value.non_retryable) == ("ChannelNotConfigured", True)
    assert publisher.drafts.calls == 0
    assert await publisher.rows() == []


async def test_channel_outside_the_approved_version_is_refused(publisher: Publisher) -> None:
    # Approved for another channel only; the hash covers the channel list.
    version = draft_version(channels=("linkedin",))
    publisher.drafts.versions[("d-1", 1)] = version

    with pytest.raises(ApplicationError) as refused:
        await publisher.activities().publish_post(request_for(version.content_hash))

    assert (refused.value.type, refused.value.non_retryable) == ("ChannelNotApproved", True)
    assert outbox_lines(publisher.outbox) == []


async def test_body_longer_than_the_channel_allows_is_refused(publisher: Publisher) -> None:
    version = draft_version(body="x" * (SandboxChannel.max_length + 1))
    publisher.drafts.versions[("d-1", 1)] = version

    with pytest.raises(ApplicationError) as refused:
        await publisher.activities().publish_post(request_for(version.content_hash))

    assert (refused.value.type, refused.value.non_retryable) == ("ContentTooLong", True)
    assert await publisher.rows() == []


async def test_missing_version_is_not_retried(publisher: Publisher) -> None:
    request = signed_request("d-404", 1, "0" * 64, ["sandbox"])

    with pytest.raises(ApplicationError) as refused:
        await publisher.activities().publish_post(request)

    assert (refused.value.type, refused.value.non_retryable) == ("VersionNotFound", True)


@pytest.mark.parametrize(
    "tamper",
    [
        "no_requirement",
        "missing_stage",
        "same_signer_twice",
        "author_signs",
        "other_content",
        "forged",
        "forged_author",
        "no_stages",
        "consent_gone",
    ],
)
async def test_posts_nothing_without_valid_signed_approvals(
    publisher: Publisher, tamper: str, tmp_path: Path
) -> None:
    content = draft_version()
    drafts = FakeDrafts(content)
    args = ("d-1", 1, content.content_hash)
    approve = {
        "compliance": signed_approval(*args, "compliance", "carol", ("compliance",)),
        "legal": signed_approval(*args, "legal", "leo", ("legal",)),
    }
    if tamper == "no_requirement":
        request = dataclasses.replace(signed_request(*args, ["sandbox"]), requirement="")
    elif tamper == "missing_stage":
        request = signed_request(*args, ["sandbox"], approvals=[approve["compliance"]])
    elif tamper == "same_signer_twice":
        both = ("compliance", "legal")
        request = signed_request(
            *args,
            ["sandbox"],
            approvals=[
                signed_approval(*args, "compliance", "dana", both),
                signed_approval(*args, "legal", "dana", both),
            ],
        )
    elif tamper == "author_signs":
        request = signed_request(
            *args,
            ["sandbox"],
            approvals=[signed_approval(*args, "compliance", "author-1", ("compliance",)), approve["legal"]],
        )
    elif tamper == "other_content":
        other = signed_approval("d-1", 1, "e" * 64, "legal", "leo", ("legal",))
        request = signed_request(*args, ["sandbox"], approvals=[approve["compliance"], other])
    elif tamper == "forged_author":
        # The workflow was started naming someone else; the review service signed that name.
        request = signed_request(*args, ["sandbox"], author_id="someone-else")
    elif tamper == "no_stages":
        request = signed_request(*args, ["sandbox"], approvals=[], stages=())
    elif tamper == "consent_gone":
        request = signed_request(*args, ["sandbox"])
        drafts.consent = ConsentVerdict(ok=False, reasons=["consent c-1 was revoked"])
    else:
        forger = load_or_create_signing_key(tmp_path / "forger.pem")
        forged = dataclasses.replace(forger, kid=REVIEW_KEY.kid)
        token = sign_record(forged, json.loads(_payload(approve["legal"])), typ=DECISION_TYPE)
        request = signed_request(*args, ["sandbox"], approvals=[approve["compliance"], token])
    audit = RecordingAudit()
    activities = PublisherActivities(
        publisher.sessionmaker, drafts, {"sandbox": SandboxChannel(publisher.outbox_dir)},
        approvals=approval_gate(audit),
    )  # fmt: skip
    with pytest.raises(ApplicationError) as info:
        await activities.publish_post(request)
    assert info.value.type == "ApprovalRefused" and info.value.non_retryable
    assert outbox_lines(publisher.outbox_dir / "sandbox.jsonl") == []
    assert await publisher.rows() == []
    assert [e["action"] for e in audit.events] == ["publish.refused"]


async def test_the_publisher_asks_the_drafts_service_about_consent_itself(publisher: Publisher) -> None:
    content = publisher.drafts.versions[("d-1", 1)]

    await publisher.activities().publish_post(request_for(content.content_hash))

    # The categories come from the review service's signed requirement, not the workflow.
    assert publisher.drafts.consent_asked == [
        {"draft": ("d-1", 1, content.content_hash), "channels": ["sandbox"], "categories": ["phi"]}
    ]


def _payload(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def test_the_versions_images_go_to_the_channel_by_digest(publisher: Publisher) -> None:
    image = b"\xff\xd8 sanitized jpeg bytes"
    digest = hashlib.sha256(image).hexdigest()
    version = draft_version(media_digests=(digest,))
    drafts = FakeDrafts(version)
    drafts.media[digest] = (image, "image/jpeg")
    activities = PublisherActivities(
        publisher.sessionmaker,
        drafts,
        {"sandbox": SandboxChannel(publisher.outbox_dir)},
        approvals=approval_gate(),
    )

    await ActivityEnvironment().run(activities.publish_post, request_for(version.content_hash))

    [line] = outbox_lines(publisher.outbox)
    assert line["media"] == [{"digest": digest, "media_type": "image/jpeg", "path": f"media/{digest}"}]
    assert (publisher.outbox_dir / "media" / digest).read_bytes() == image


async def test_an_image_the_drafts_service_does_not_have_stops_the_publish(publisher: Publisher) -> None:
    version = draft_version(media_digests=("c3" * 32,))
    activities = PublisherActivities(
        publisher.sessionmaker,
        FakeDrafts(version),
        {"sandbox": SandboxChannel(publisher.outbox_dir)},
        approvals=approval_gate(),
    )

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.publish_post, request_for(version.content_hash))

    assert refused.value.type == "ContentMismatch" and refused.value.non_retryable
    assert outbox_lines(publisher.outbox) == []
