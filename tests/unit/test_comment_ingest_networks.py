"""Comments ingested from Instagram, LinkedIn, X and Bluesky, each against its network's fake over
loopback, into the publisher's database (SQLite and PostgreSQL): every listing read whole or paged
as the network pages it, the cursor kept between calls and across restarts, nothing stored twice,
nothing skipped, rate limits and network errors as the ingest expects them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.comment_ingest import CommentSeal
from services.publisher.networks import bluesky, build_adapters, x_comments
from services.publisher.networks.base import (
    NETWORKS,
    AccountCredentials,
    CommentReader,
    CredentialsRejected,
    NetworkConfig,
    NetworkUnavailable,
    PostRequest,
    RateLimited,
    Reply,
)
from services.publisher.networks.bluesky import COMMENT_PAGE as BSKY_PAGE
from services.publisher.networks.bluesky import BlueskyAdapter
from services.publisher.networks.comment_cursor import Listed, page_after
from services.publisher.networks.instagram import InstagramAdapter
from services.publisher.networks.instagram_comments import COMMENT_PAGE as IG_PAGE
from services.publisher.networks.linkedin import LINKEDIN_VERSION, LinkedInAdapter
from services.publisher.networks.linkedin_comments import COMMENT_PAGE as LI_PAGE
from services.publisher.networks.x import XAdapter
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.clock import ManualClock
from tests.fakes.networks.bluesky import FakePds
from tests.fakes.networks.bluesky import create_app as create_bluesky
from tests.fakes.networks.linkedin import FakeLinkedInState
from tests.fakes.networks.linkedin import create_app as create_linkedin
from tests.fakes.networks.meta_state import FakeMedia
from tests.fakes.networks.x import FakeTweet, FakeXState, snowflake
from tests.fakes.networks.x import create_app as create_x
from tests.fakes.serve import ServedApp
from tests.unit.comment_support import add_publication, ingest_for, stored_comments
from tests.unit.meta_support import IG_ID, MetaWorld

pytest_plugins = ["tests.unit.meta_fixtures", "tests.unit.comment_fixtures"]

Sessions = async_sessionmaker[AsyncSession]


# --- the high-water cursor --------------------------------------------------------------------


def listed(key: str, seconds: float) -> Listed:
    at = datetime.fromtimestamp(1_800_000_000 + seconds, tz=UTC)
    return Listed(at=at, reply=Reply(external_id=key, author="a", text=key, created_at=at))


def test_the_high_water_cursor_keeps_only_the_ids_near_its_mark() -> None:
    first = page_after([listed("b", 0), listed("a", 0), listed("c", 10)], None, limit=10)
    assert [r.external_id for r in first.replies] == ["a", "b", "c"]  # by time, then id
    assert first.cursor is not None and json.loads(first.cursor)["seen"].keys() == {"a", "b", "c"}
    # An hour on, the old ids fall out of the cursor and out of the window alike.
    later = [listed("a", 0), listed("b", 0), listed("c", 10), listed("d", 3600)]
    second = page_after(later, first.cursor, limit=10)
    assert [r.external_id for r in second.replies] == ["d"]
    assert second.cursor is not None and set(json.loads(second.cursor)["seen"]) == {"d"}
    assert page_after(later, second.cursor, limit=10).replies == []
    # A repeated id in one listing is handed over once; an unreadable cursor reads from the start.
    assert [r.external_id for r in page_after([listed("x", 1), listed("x", 1)], None, limit=5).replies] == [
        "x"
    ]
    assert len(page_after(later, "after-cursor-from-elsewhere", limit=10).replies) == 4


# --- Instagram ---------------------------------------------------------------------------------


async def instagram(world: MetaWorld, **config: float) -> tuple[InstagramAdapter, AccountCredentials, str]:
    ig = InstagramAdapter(world.config(**config), sleep=world.clock.sleep, clock=world.clock.now)
    account = await ig.account_from_grant("riverside-ig", {"access_token": world.user_token()}, target=IG_ID)
    media = FakeMedia(world.fake.next_id(), IG_ID, "Flu shots this week.", world.clock.now(), "c-1", [])
    world.fake.media[media.id] = media
    return ig, account, media.id


async def test_instagram_reads_every_comment_once_oldest_first_whatever_order_graph_lists(
    meta_world: MetaWorld,
) -> None:
    ig, account, media_id = await instagram(meta_world)
    assert isinstance(ig, CommentReader)
    fake, start = meta_world.fake, meta_world.clock.now()
    # Listed newest first (the fake's order), several to a second, one with five replies (two
    # shown in the listing, the rest behind `paging.next` of the nested edge).
    for n in range(IG_PAGE + 7):
        fake.comment(media_id, f"comment {n:03d}", author=f"user{n}", at=start + n // 3)
    parent = fake.comments[0]
    for n in range(5):
        fake.comment(media_id, f"reply {n}", author="nurse", parent_id=parent.id, at=start + 100 + n)
    first = await ig.comments(account, media_id, cursor=None)
    assert [r.text for r in first.replies] == [f"comment {n:03d}" for n in range(IG_PAGE)]
    assert first.more and first.cursor
    second = await ig.comments(account, media_id, cursor=first.cursor)
    assert [r.text for r in second.replies] == [f"comment {n:03d}" for n in range(IG_PAGE, IG_PAGE + 7)] + [
        f"reply {n}" for n in range(5)
    ]
    assert {r.in_reply_to for r in second.replies[-5:]} == {parent.id} and not second.more
    assert ("GET", f"/{parent.id}/replies") in fake.requests
    nothing = await ig.comments(account, media_id, cursor=second.cursor)
    assert (nothing.replies, nothing.cursor) == ([], second.cursor)
    # One comment at the newest second already read, and one that shows up late (backdated a few
    # minutes): both new, neither of the others again.
    fake.comment(media_id, "same second", at=start + 104)
    fake.comment(media_id, "held for review", at=start + 104 - 300)
    late = await ig.comments(account, media_id, cursor=nothing.cursor)
    assert [r.text for r in late.replies] == ["held for review", "same second"]
    assert (await ig.comments(account, media_id, cursor=late.cursor)).replies == []
    assert fake.tokens_in_query == []


async def test_instagram_ingest_survives_a_rate_limit_and_a_restart(
    meta_world: MetaWorld, publisher_sessions: Sessions, comment_seal: CommentSeal
) -> None:
    ig, account, media_id = await instagram(meta_world, max_wait_seconds=5)
    await add_publication(publisher_sessions, account=account.name, network="instagram", external_id=media_id)
    total = 2 * IG_PAGE + 3
    for n in range(total):
        meta_world.fake.comment(
            media_id, f"comment {n:03d}", author=f"user{n}", at=meta_world.clock.now() + n
        )
    reader = ingest_for(publisher_sessions, {"instagram": ig}, account, comment_seal)
    first = await reader.read_account(account.name)
    assert len(first.comments) == total and first.retry_at is None
    more = 5
    for n in range(more):
        meta_world.fake.comment(media_id, f"later {n}", at=meta_world.clock.now() + 1000 + n)
    # Graph's budget runs out (code 4, regained in 30 minutes) in the middle of the listing.
    meta_world.fake.set_rate_limit(1, regain_minutes=30)
    limited = await reader.read_account(account.name)
    assert limited.comments == [] and limited.retry_at is not None
    assert limited.retry_at.timestamp() >= meta_world.clock.now() + 29 * 60
    meta_world.clock.now_value = limited.retry_at.timestamp()  # the workflow waits until then
    meta_world.fake.set_rate_limit(None)
    again = ingest_for(publisher_sessions, {"instagram": ig}, account, comment_seal)
    assert len((await again.read_account(account.name)).comments) == more
    assert (await again.read_account(account.name)).comments == []
    rows = await stored_comments(publisher_sessions)
    texts = sorted(comment_seal.open(row) for row in rows)
    assert texts == sorted([f"comment {n:03d}" for n in range(total)] + [f"later {n}" for n in range(more)])
    assert len({row.external_id for row in rows}) == len(rows)


async def test_instagram_network_errors_and_refused_tokens_come_out_as_the_ingest_expects(
    meta_world: MetaWorld,
) -> None:
    ig, account, media_id = await instagram(meta_world)
    meta_world.fake.comment(media_id, "Is there parking?")
    meta_world.fake.fail_next(f"/{media_id}/comments", count=4, status=503)
    with pytest.raises(NetworkUnavailable):
        await ig.comments(account, media_id, cursor=None)
    meta_world.fake.expire(str(account.access_token))
    with pytest.raises(CredentialsRejected):
        await ig.comments(account, media_id, cursor=None)


# --- LinkedIn ----------------------------------------------------------------------------------

LI_POST = "urn:li:share:7100000000000000999"


@dataclass
class LinkedInWorld:
    url: str
    fake: FakeLinkedInState
    clock: ManualClock

    def adapter(self) -> LinkedInAdapter:
        config = NetworkConfig(
            api_base_url=self.url, auth_base_url=self.url, timeout_seconds=5, max_wait_seconds=5
        )
        return LinkedInAdapter(config, sleep=self.clock.sleep, clock=self.clock.now)

    def account(self) -> AccountCredentials:
        token = self.fake.grant()
        return AccountCredentials(
            network="linkedin",
            name="riverside-li",
            base_url=self.url,
            access_token=token.access_token,
            account_ref="urn:li:organization:2414183",
        )


@pytest.fixture
def linkedin_world() -> Iterator[LinkedInWorld]:
    app = create_linkedin()
    with ServedApp(app) as served:
        yield LinkedInWorld(served.url, app.state.fake, ManualClock())


async def test_linkedin_reads_comments_and_replies_once_oldest_first(linkedin_world: LinkedInWorld) -> None:
    fake, li, account = linkedin_world.fake, linkedin_world.adapter(), linkedin_world.account()
    assert isinstance(li, CommentReader)
    start = 1_800_000_000_000
    for n in range(LI_PAGE + 4):
        fake.add_comment(LI_POST, f"urn:li:person:p{n}", f"comment {n:03d}", at_ms=start + 1000 * n)
    parent = fake.comment_urn(LI_POST, str(fake.comments[LI_POST][0]["id"]))
    fake.add_comment(LI_POST, "urn:li:person:nurse", "a reply", parent=parent, at_ms=start + 500)
    first = await li.comments(account, LI_POST, cursor=None)
    assert [r.text for r in first.replies][:2] == ["comment 000", "a reply"]
    assert len(first.replies) == LI_PAGE and first.more
    assert first.replies[1].in_reply_to == parent and first.replies[0].in_reply_to == LI_POST
    second = await li.comments(account, LI_POST, cursor=first.cursor)
    assert [r.text for r in second.replies] == [f"comment {n:03d}" for n in range(LI_PAGE - 1, LI_PAGE + 4)]
    assert not second.more
    assert (await li.comments(account, LI_POST, cursor=second.cursor)).replies == []
    assert set(fake.versions_seen) == {LINKEDIN_VERSION}
    # Every page of the listing was asked for, with LinkedIn's start/count paging.
    assert [path for method, path in fake.plan.requests if "socialActions" in path].count(
        f"/rest/socialActions/{LI_POST}/comments"
    ) >= 2 * 2


async def test_linkedin_ingest_survives_a_rate_limit_and_a_restart(
    linkedin_world: LinkedInWorld, publisher_sessions: Sessions, comment_seal: CommentSeal
) -> None:
    fake, account = linkedin_world.fake, linkedin_world.account()
    await add_publication(publisher_sessions, account=account.name, network="linkedin", external_id=LI_POST)
    total = 2 * LI_PAGE + 1
    for n in range(total):
        fake.add_comment(LI_POST, f"urn:li:person:p{n}", f"comment {n:03d}", at_ms=1_800_000_000_000 + n)
    # One request is left before LinkedIn answers 429: the listing's second page is refused.
    fake.plan.remaining = 1
    limited = await ingest_for(
        publisher_sessions, {"linkedin": linkedin_world.adapter()}, account, comment_seal
    ).read_account(account.name)
    assert limited.comments == [] and limited.retry_at is not None
    fake.plan.remaining = None
    again = ingest_for(publisher_sessions, {"linkedin": linkedin_world.adapter()}, account, comment_seal)
    assert len((await again.read_account(account.name)).comments) == total
    fake.add_comment(LI_POST, "urn:li:person:late", "one more", at_ms=1_800_000_000_000 + total)
    assert len((await again.read_account(account.name)).comments) == 1
    assert (await again.read_account(account.name)).comments == []
    rows = await stored_comments(publisher_sessions)
    assert sorted(comment_seal.open(r) for r in rows) == sorted(
        [f"comment {n:03d}" for n in range(total)] + ["one more"]
    )
    assert len({r.external_id for r in rows}) == len(rows)


async def test_linkedin_errors_come_out_as_the_ingest_expects(
    linkedin_world: LinkedInWorld, publisher_sessions: Sessions, comment_seal: CommentSeal
) -> None:
    fake, account = linkedin_world.fake, linkedin_world.account()
    fake.add_comment(LI_POST, "urn:li:person:p1", "Is it walk-in?")
    gone = await add_publication(
        publisher_sessions, account=account.name, network="linkedin", external_id="urn:li:share:1"
    )
    await add_publication(publisher_sessions, account=account.name, network="linkedin", external_id=LI_POST)
    fake.plan.fail_next("GET", "/rest/socialActions/urn:li:share:1/", 503, times=10)
    round_ = await ingest_for(
        publisher_sessions, {"linkedin": linkedin_world.adapter()}, account, comment_seal
    ).read_account(account.name)
    assert len(round_.comments) == 1 and list(round_.unreadable) == [gone.id]
    fake.tokens.revoke(str(account.access_token))
    with pytest.raises(CredentialsRejected):
        await linkedin_world.adapter().comments(account, LI_POST, cursor=None)


# --- X -----------------------------------------------------------------------------------------


@dataclass
class XWorld:
    url: str
    fake: FakeXState
    sleeps: list[float]

    def adapter(self) -> XAdapter:
        async def record(seconds: float) -> None:
            self.sleeps.append(seconds)  # no real wait; the fake's window does not pass by itself

        config = NetworkConfig(
            api_base_url=self.url, auth_base_url=self.url, timeout_seconds=5, max_wait_seconds=5
        )
        return XAdapter(config, sleep=record)

    def account(self) -> AccountCredentials:
        token = self.fake.grant()
        return AccountCredentials(
            network="x",
            name="riverside-x",
            base_url=self.url,
            access_token=token.access_token,
            account_ref=self.fake.me,
            scopes=token.scopes,
        )

    def root(self) -> str:
        """A post of the account's, made on X directly (the tests here read its replies only)."""
        tweet_id = self.fake.next_id()
        self.fake.tweets[tweet_id] = FakeTweet(
            tweet_id, self.fake.me, "Flu shots this week.", [], time.time(), tweet_id
        )
        return tweet_id


@pytest.fixture
def x_world() -> Iterator[XWorld]:
    app = create_x()
    with ServedApp(app) as served:
        yield XWorld(served.url, app.state.fake, [])


async def test_x_reads_replies_oldest_first_from_since_id_and_narrows_when_there_are_many(
    x_world: XWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, x, account = x_world.fake, x_world.adapter(), x_world.account()
    assert isinstance(x, CommentReader)
    root = x_world.root()
    first_reply = fake.reply(root, "patient1", "Is it walk-in? https://clinic.example/flu")
    fake.reply(first_reply, "patient2", "It is & free")
    page = await x.comments(account, root, cursor=None)
    assert [(r.author, r.text) for r in page.replies] == [
        ("patient1", "Is it walk-in? https://clinic.example/flu"),
        ("patient2", "It is & free"),
    ]
    assert page.replies[1].in_reply_to == first_reply and page.replies[0].in_reply_to == root
    assert page.cursor == page.replies[-1].external_id and not page.more
    assert (await x.comments(account, root, cursor=page.cursor)).replies == []
    # More replies than one call reads (two pages of 100 here): the reader narrows below the
    # oldest it saw until the oldest fit, hands those over, and moves up again.
    monkeypatch.setattr(x_comments, "MAX_PAGES", 2)
    wanted = [fake.reply(root, f"user{n}", f"reply {n:03d}") for n in range(450)]
    read: list[str] = []
    cursor: str | None = page.cursor
    calls = 0
    while True:
        calls += 1
        step = await x.comments(account, root, cursor=cursor)
        read.extend(r.external_id for r in step.replies)
        cursor = step.cursor
        if not step.more:
            break
    assert read == wanted and calls > 3
    searches = [p for m, p in fake.plan.requests if p == "/2/tweets/search/recent"]
    assert len(searches) >= 450 // 100


async def test_x_a_cursor_older_than_search_reaches_is_not_sent_and_loses_nothing(x_world: XWorld) -> None:
    fake, x, account = x_world.fake, x_world.adapter(), x_world.account()
    root = x_world.root()
    week_old = str(snowflake(time.time() - 8 * 24 * 3600))  # the last reply read, eight days ago
    new = fake.reply(root, "patient1", "Still sore a week on")
    page = await x.comments(account, root, cursor=week_old)
    assert [r.external_id for r in page.replies] == [new] and page.cursor == new
    # Narrowing that ran past the seven days: below that `until` search sees nothing; move up.
    moved = await x.comments(account, root, cursor=f"|{week_old}")
    assert (moved.replies, moved.cursor, moved.more) == ([], str(int(week_old) - 1), True)
    assert [r.external_id for r in (await x.comments(account, root, cursor=moved.cursor)).replies] == [new]


async def test_x_ingest_survives_a_rate_limit_and_a_restart(
    x_world: XWorld, publisher_sessions: Sessions, comment_seal: CommentSeal
) -> None:
    fake, account = x_world.fake, x_world.account()
    root = x_world.root()
    await add_publication(publisher_sessions, account=account.name, network="x", external_id=root)
    for n in range(150):
        fake.reply(root, f"user{n}", f"reply {n:03d}")
    # One request is left in X's window, which resets in an hour: the second page must wait.
    fake.plan.remaining, fake.plan.reset_after_seconds = 1, 3600
    limited = await ingest_for(
        publisher_sessions, {"x": x_world.adapter()}, account, comment_seal
    ).read_account(account.name)
    assert limited.comments == [] and limited.retry_at is not None
    assert limited.retry_at.timestamp() > time.time() + 3000
    fake.plan.remaining = None
    again = ingest_for(publisher_sessions, {"x": x_world.adapter()}, account, comment_seal)
    assert len((await again.read_account(account.name)).comments) == 150
    fake.reply(root, "late", "one more")
    assert len((await again.read_account(account.name)).comments) == 1
    assert (await again.read_account(account.name)).comments == []
    rows = await stored_comments(publisher_sessions)
    assert sorted(comment_seal.open(r) for r in rows) == sorted(
        [f"reply {n:03d}" for n in range(150)] + ["one more"]
    )
    assert len({r.external_id for r in rows}) == len(rows)


async def test_x_a_429_past_the_wait_is_rate_limited_until_x_rate_limit_reset(x_world: XWorld) -> None:
    x, account, root = x_world.adapter(), x_world.account(), x_world.root()
    reset = int(time.time()) + 900
    x_world.fake.plan.fail_next(
        "GET",
        "/2/tweets/search/recent",
        429,
        headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )
    with pytest.raises(RateLimited) as limited:
        await x.comments(account, root, cursor=None)
    assert limited.value.retry_at == reset
    x_world.fake.plan.fail_next("GET", "/2/tweets/search/recent", 503, times=4)
    with pytest.raises(NetworkUnavailable):
        await x_world.adapter().comments(account, root, cursor=None)
    x_world.fake.tokens.revoke(str(account.access_token))
    with pytest.raises(CredentialsRejected):
        await x_world.adapter().comments(account, root, cursor=None)


# --- Bluesky -----------------------------------------------------------------------------------


@dataclass
class BlueskyWorld:
    url: str
    fake: FakePds
    clock: ManualClock
    nurse: str

    def adapter(self) -> BlueskyAdapter:
        config = NetworkConfig(api_base_url=self.url, timeout_seconds=5, max_wait_seconds=5)
        return BlueskyAdapter(config, sleep=self.clock.sleep, clock=self.clock.now)

    def account(self) -> AccountCredentials:
        return AccountCredentials(
            network="bluesky",
            name="riverside-bsky",
            base_url=self.url,
            identifier="clinic.example.com",
            app_password="abcd-efgh-ijkl-mnop",
        )

    async def post(self, adapter: BlueskyAdapter) -> str:
        request = PostRequest(publication_id="pub-b", idempotency_key="idem-b", text="Flu shots this week.")
        return (await adapter.post(self.account(), request, MemoryCheckpoints())).external_id


@pytest.fixture
def bluesky_world() -> Iterator[BlueskyWorld]:
    clock = ManualClock()
    app = create_bluesky(clock=clock.now)
    fake: FakePds = app.state.fake
    fake.add_account("clinic.example.com", "abcd-efgh-ijkl-mnop")
    nurse = fake.add_account("nurse.example.com")
    with ServedApp(app) as served:
        yield BlueskyWorld(served.url, fake, clock, nurse)


async def test_bluesky_reads_the_whole_reply_tree_once_by_indexed_time(bluesky_world: BlueskyWorld) -> None:
    world, fake = bluesky_world, bluesky_world.fake
    bsky = world.adapter()
    assert isinstance(bsky, CommentReader)
    account, post = world.account(), await world.post(bsky)
    start = world.clock.now()
    uris = [
        fake.reply(post, world.nurse, f"reply {n:03d}", indexed_at=start + n // 4)
        for n in range(BSKY_PAGE + 6)
    ]
    nested = fake.reply(uris[0], world.nurse, "a reply to a reply", indexed_at=start + 100)
    # The record claims 2020 (createdAt is the author's to set); the AppView saw it now.
    backdated = fake.reply(
        post, world.nurse, "backdated", created_at="2020-01-01T00:00:00.000Z", indexed_at=start + 101
    )
    first = await bsky.comments(account, post, cursor=None)
    assert [r.text for r in first.replies] == [f"reply {n:03d}" for n in range(BSKY_PAGE)] and first.more
    second = await bsky.comments(account, post, cursor=first.cursor)
    assert [r.external_id for r in second.replies] == [*uris[BSKY_PAGE:], nested, backdated]
    assert second.replies[-2].in_reply_to == uris[0] and not second.more
    nothing = await bsky.comments(account, post, cursor=second.cursor)
    assert (nothing.replies, nothing.cursor) == ([], second.cursor)
    same = fake.reply(post, world.nurse, "same millisecond", indexed_at=start + 101)
    late = fake.reply(post, world.nurse, "indexed late", indexed_at=start + 101 - 120)
    assert [r.external_id for r in (await bsky.comments(account, post, cursor=nothing.cursor)).replies] == [
        late,
        same,
    ]


async def test_bluesky_reads_a_thread_deeper_than_one_answer_holds(
    bluesky_world: BlueskyWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = bluesky_world
    bsky = world.adapter()
    account, post = world.account(), await world.post(bsky)
    chain, parent = [], post
    for n in range(7):  # a conversation seven replies deep, read two levels at a time
        parent = world.fake.reply(parent, world.nurse, f"level {n}", indexed_at=world.clock.now() + n)
        chain.append(parent)
    monkeypatch.setattr(bluesky, "COMMENT_DEPTH", 2)
    page = await bsky.comments(account, post, cursor=None)
    assert [r.external_id for r in page.replies] == chain
    reads = [p for _m, p in world.fake.requests if p == "/xrpc/app.bsky.feed.getPostThread"]
    assert len(reads) == 4


async def test_bluesky_ingest_survives_a_rate_limit_and_a_restart(
    bluesky_world: BlueskyWorld, publisher_sessions: Sessions, comment_seal: CommentSeal
) -> None:
    world, fake = bluesky_world, bluesky_world.fake
    bsky = world.adapter()
    account, post = world.account(), await world.post(bsky)
    await add_publication(publisher_sessions, account=account.name, network="bluesky", external_id=post)
    total = BSKY_PAGE + 20
    for n in range(total):
        fake.reply(post, world.nurse, f"reply {n:03d}", indexed_at=world.clock.now() + n)
    # One request left until the PDS's window resets in an hour: the first page is read and kept,
    # the second read waits for the reset.
    fake.set_rate_limit(1, reset_in=3600)
    limited = await ingest_for(publisher_sessions, {"bluesky": bsky}, account, comment_seal).read_account(
        account.name
    )
    assert len(limited.comments) == BSKY_PAGE and limited.retry_at is not None
    world.clock.value = limited.retry_at.timestamp()  # the workflow waits until then
    again = ingest_for(publisher_sessions, {"bluesky": world.adapter()}, account, comment_seal)
    assert len((await again.read_account(account.name)).comments) == total - BSKY_PAGE
    assert (await again.read_account(account.name)).comments == []
    rows = await stored_comments(publisher_sessions)
    assert sorted(comment_seal.open(r) for r in rows) == [f"reply {n:03d}" for n in range(total)]
    assert len({r.external_id for r in rows}) == total


async def test_bluesky_errors_come_out_as_the_ingest_expects(bluesky_world: BlueskyWorld) -> None:
    world = bluesky_world
    bsky = world.adapter()
    account, post = world.account(), await world.post(bsky)
    world.fake.fail_next("app.bsky.feed.getPostThread", 502, times=4)
    with pytest.raises(NetworkUnavailable):
        await bsky.comments(account, post, cursor=None)
    clinic = next(a.did for a in world.fake.accounts.values() if a.handle == "clinic.example.com")
    world.fake.revoke_app_password(clinic)
    with pytest.raises(CredentialsRejected):
        await bsky.comments(account, post, cursor=None)


def test_every_network_adapter_reads_comments_so_every_account_is_listened_to() -> None:
    adapters = build_adapters({})
    assert set(adapters) == set(NETWORKS)
    assert all(isinstance(adapter, CommentReader) for adapter in adapters.values())
