"""Comments read under published posts, against the Meta Graph fake and the Mastodon fake over
loopback, into the publisher's database (SQLite and PostgreSQL): pages, cursors, rate limits,
restarts, and hiding a comment through the adapter."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.comment_ingest import CommentIngest, CommentSeal
from services.publisher.comment_repository import CommentRepository
from services.publisher.models import Comment
from services.publisher.networks.base import (
    AccountCredentials,
    CommentModerator,
    CommentReader,
    NetworkConfig,
    PostRequest,
    RateLimited,
)
from services.publisher.networks.facebook import COMMENT_PAGE, FacebookAdapter
from services.publisher.networks.mastodon import MastodonAdapter
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.clock import ManualClock
from tests.fakes.networks.mastodon import FakeStatus
from tests.fakes.networks.mastodon import create_app as create_mastodon
from tests.fakes.serve import ServedApp
from tests.unit.comment_support import add_publication
from tests.unit.meta_support import PAGE_ID, MetaWorld

pytest_plugins = ["tests.unit.meta_fixtures", "tests.unit.comment_fixtures"]

ACCOUNT = "riverside-fb"


def facebook(world: MetaWorld, **config: float) -> FacebookAdapter:
    return FacebookAdapter(world.config(**config), sleep=world.clock.sleep, clock=world.clock.now)


async def facebook_post(world: MetaWorld, fb: FacebookAdapter) -> tuple[AccountCredentials, str]:
    account = await fb.account_from_grant("Riverside", {"access_token": world.user_token()}, target=PAGE_ID)
    posted = await fb.post(
        account,
        PostRequest(
            publication_id="pub-1", idempotency_key="idem-1", text="Flu shots this week at Riverside."
        ),
        MemoryCheckpoints(),
    )
    return account, posted.external_id


def ingest(
    sessions: async_sessionmaker[AsyncSession],
    adapters: dict[str, object],
    account: AccountCredentials,
    seal: CommentSeal,
) -> CommentIngest:
    async def credentials(name: str) -> AccountCredentials:
        assert name == ACCOUNT
        return account

    return CommentIngest(sessions, adapters, credentials, seal)  # type: ignore[arg-type]


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[Comment]:
    async with sessions() as session:
        return list((await session.scalars(select(Comment).order_by(Comment.external_id))).all())


def rate_limited_body() -> dict[str, object]:
    return {
        "error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}
    }


async def test_facebook_reads_comments_page_by_page_from_its_cursor(meta_world: MetaWorld) -> None:
    fb = facebook(meta_world)
    assert isinstance(fb, CommentReader) and isinstance(fb, CommentModerator)
    account, post_id = await facebook_post(meta_world, fb)
    for n in range(COMMENT_PAGE + 5):
        meta_world.fake.comment(post_id, f"comment {n}", author=f"person {n}")
    first = await fb.comments(account, post_id, cursor=None)
    assert len(first.replies) == COMMENT_PAGE and first.more and first.cursor
    second = await fb.comments(account, post_id, cursor=first.cursor)
    assert [r.text for r in second.replies] == [f"comment {n}" for n in range(COMMENT_PAGE, COMMENT_PAGE + 5)]
    assert not second.more
    nothing_new = await fb.comments(account, post_id, cursor=second.cursor)
    assert (nothing_new.replies, nothing_new.cursor) == ([], second.cursor)
    meta_world.fake.comment(post_id, "one more")
    [late] = (await fb.comments(account, post_id, cursor=second.cursor)).replies
    assert late.text == "one more"


async def test_every_comment_is_stored_once_sealed_across_rate_limits_and_restarts(
    meta_world: MetaWorld,
    publisher_sessions: async_sessionmaker[AsyncSession],
    comment_seal: CommentSeal,
) -> None:
    fb = facebook(meta_world, max_wait_seconds=5)
    account, post_id = await facebook_post(meta_world, fb)
    publication = await add_publication(
        publisher_sessions, account=ACCOUNT, network="facebook", external_id=post_id
    )
    total = 2 * COMMENT_PAGE + 3
    for n in range(total):
        meta_world.fake.comment(post_id, f"comment {n:03d}", author=f"person {n}")
    # The second page's read is refused for 30 minutes: the first page is kept, the round stops.
    reader = ingest(publisher_sessions, {"facebook": fb}, account, comment_seal)
    original = fb.comments
    calls = 0

    async def limited_second_call(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RateLimited("facebook: rate limited", retry_at=meta_world.clock.now() + 1800)
        return await original(*args, **kwargs)  # type: ignore[arg-type]

    fb.comments = limited_second_call  # type: ignore[method-assign]
    first = await reader.read_account(ACCOUNT)
    assert len(first.comments) == COMMENT_PAGE and first.retry_at is not None
    fb.comments = original  # type: ignore[method-assign]

    # A new process (a worker restart) starts from the committed cursor.
    again = ingest(publisher_sessions, {"facebook": fb}, account, comment_seal)
    second = await again.read_account(ACCOUNT)
    assert len(second.comments) == total - COMMENT_PAGE and second.retry_at is None
    assert (await again.read_account(ACCOUNT)).comments == []

    rows = await stored(publisher_sessions)
    assert [comment_seal.open(row) for row in rows] == [f"comment {n:03d}" for n in range(total)]
    assert len({row.external_id for row in rows}) == total
    assert all(b"comment" not in row.text_sealed for row in rows)  # sealed at rest
    assert {(row.network, row.account, row.publication_id, row.draft_id) for row in rows} == {
        ("facebook", ACCOUNT, publication.id, publication.draft_id)
    }
    assert all(row.read_at is not None and row.author.startswith("person") for row in rows)


async def test_a_graph_rate_limit_answer_stops_the_round_and_loses_nothing(
    meta_world: MetaWorld,
    publisher_sessions: async_sessionmaker[AsyncSession],
    comment_seal: CommentSeal,
) -> None:
    fb = facebook(meta_world, max_wait_seconds=5)
    account, post_id = await facebook_post(meta_world, fb)
    await add_publication(publisher_sessions, account=ACCOUNT, network="facebook", external_id=post_id)
    meta_world.fake.comment(post_id, "my hair fell out after the shot")
    meta_world.fake.fail_next(f"/{post_id}/comments", status=400, body=rate_limited_body())
    reader = ingest(publisher_sessions, {"facebook": fb}, account, comment_seal)
    limited = await reader.read_account(ACCOUNT)
    assert limited.comments == [] and limited.retry_at is not None
    later = await reader.read_account(ACCOUNT)
    assert len(later.comments) == 1 and later.retry_at is None


async def test_a_network_error_on_one_post_does_not_stop_the_others(
    meta_world: MetaWorld,
    publisher_sessions: async_sessionmaker[AsyncSession],
    comment_seal: CommentSeal,
) -> None:
    fb = facebook(meta_world)
    account, post_id = await facebook_post(meta_world, fb)
    gone = await add_publication(
        publisher_sessions, account=ACCOUNT, network="facebook", external_id="404404"
    )
    await add_publication(publisher_sessions, account=ACCOUNT, network="facebook", external_id=post_id)
    meta_world.fake.comment(post_id, "Is there parking?")
    round_ = await ingest(publisher_sessions, {"facebook": fb}, account, comment_seal).read_account(ACCOUNT)
    assert len(round_.comments) == 1 and list(round_.unreadable) == [gone.id]


async def test_hiding_a_comment_goes_through_the_graph_api(meta_world: MetaWorld) -> None:
    fb = facebook(meta_world)
    account, post_id = await facebook_post(meta_world, fb)
    comment = meta_world.fake.comment(post_id, "My son Jake Miller is in room 412 with leukemia")
    await fb.hide_comment(account, comment.id)
    assert comment.is_hidden
    assert ("POST", f"/{comment.id}") in meta_world.fake.requests


async def test_mastodon_replies_are_read_once_by_their_growing_ids(
    publisher_sessions: async_sessionmaker[AsyncSession], comment_seal: CommentSeal
) -> None:
    clock = ManualClock()
    app = create_mastodon(max_characters=500, clock=clock.now)
    fake = app.state.fake
    fake.add_account("clinic", "clinic-token")
    patient = fake.add_account("patient", "patient-token")
    with ServedApp(app) as served:
        adapter = MastodonAdapter(
            NetworkConfig(api_base_url=served.url, timeout_seconds=5), sleep=clock.sleep, clock=clock.now
        )
        account = AccountCredentials(
            network="mastodon", name=ACCOUNT, base_url=served.url, access_token="clinic-token"
        )
        posted = await adapter.post(
            account,
            PostRequest(publication_id="pub-m", idempotency_key="idem-m", text="Flu shots this week."),
            MemoryCheckpoints(),
        )
        await add_publication(
            publisher_sessions, account=ACCOUNT, network="mastodon", external_id=posted.external_id
        )
        now = datetime.now(UTC)
        fake.statuses["9000"] = FakeStatus(
            id="9000", account_id=patient, text="Got mine!", created_at=now, in_reply_to_id=posted.external_id
        )
        reader = ingest(publisher_sessions, {"mastodon": adapter}, account, comment_seal)
        assert len((await reader.read_account(ACCOUNT)).comments) == 1
        fake.statuses["9001"] = FakeStatus(
            id="9001", account_id=patient, text="Me too", created_at=now, in_reply_to_id="9000"
        )
        assert len((await reader.read_account(ACCOUNT)).comments) == 1
        assert (await reader.read_account(ACCOUNT)).comments == []
    rows = await stored(publisher_sessions)
    assert [(r.external_id, r.author, comment_seal.open(r)) for r in rows] == [
        ("9000", "patient", "Got mine!"),
        ("9001", "patient", "Me too"),
    ]
    async with publisher_sessions() as session:
        assert await CommentRepository(session).cursor(rows[0].publication_id) == "9001"
