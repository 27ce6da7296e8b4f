"""The Bluesky adapter against a minimal local PDS, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from services.publisher.channels import OutgoingMedia
from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    ACCOUNT_UNREACHABLE,
    AccountCredentials,
    CredentialsRejected,
    MissingScopes,
    NetworkAdapter,
    NetworkConfig,
    NetworkRejected,
    NetworkUnavailable,
    PostRequest,
    RateLimited,
)
from services.publisher.networks.bluesky import BlueskyAdapter, split_at_uri
from services.publisher.networks.bluesky_text import (
    TID_PATTERN,
    TID_WINDOW_START_US,
    bluesky_length,
    facet_spans,
    tid_for,
    tid_micros,
)
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.clock import ManualClock
from tests.fakes.networks.bluesky import FakePds, create_app
from tests.fakes.serve import ServedApp

HANDLE = "clinic.example.com"
PASSWORD = "abcd-efgh-ijkl-mnop"
CREATE = "com.atproto.repo.createRecord"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakePds:
    fake: FakePds = create_app(clock=clock.now).state.fake
    fake.add_account(HANDLE, PASSWORD)
    fake.add_account("nurse.example.com")
    return fake


@pytest.fixture
def served(fake: FakePds) -> Iterator[ServedApp]:
    with ServedApp(fake.app) as served:
        yield served


def adapter_for(url: str, clock: ManualClock, *, timeout: float = 5.0) -> BlueskyAdapter:
    config = NetworkConfig(api_base_url=url, timeout_seconds=timeout)
    return BlueskyAdapter(config, sleep=clock.sleep, clock=clock.now)


@pytest.fixture
def adapter(served: ServedApp, clock: ManualClock) -> BlueskyAdapter:
    return adapter_for(served.url, clock)


@pytest.fixture
def account(served: ServedApp) -> AccountCredentials:
    return AccountCredentials(
        network="bluesky", name="Clinic", base_url=served.url, identifier=HANDLE, app_password=PASSWORD
    )


@pytest.fixture
def did(fake: FakePds) -> str:
    return next(iter(fake.accounts))


TEXT = "Flu shots 💉 at https://clinic.example/flu #FluSeason thanks @nurse.example.com"


def request_for(text: str = TEXT, media: tuple[OutgoingMedia, ...] = (), key: str = "pub-1") -> PostRequest:
    return PostRequest(publication_id=key, idempotency_key=f"clearpost-{key}", text=text, media=media)


def test_is_a_network_adapter(adapter: BlueskyAdapter) -> None:
    assert isinstance(adapter, NetworkAdapter)
    assert adapter.network == "bluesky"


def test_record_keys_are_valid_deterministic_tids() -> None:
    keys = {tid_for(f"clearpost-{n}") for n in range(500)}
    assert len(keys) == 500
    assert all(TID_PATTERN.match(key) for key in keys)
    assert tid_for("clearpost-1") == tid_for("clearpost-1")
    micros = tid_micros(tid_for("clearpost-1"))
    assert TID_WINDOW_START_US <= micros < datetime.now(UTC).timestamp() * 1_000_000


def test_limits_count_graphemes(adapter: BlueskyAdapter, account: AccountCredentials) -> None:
    limits = adapter.limits(account)
    assert (limits.max_length, limits.unit, limits.max_images, limits.max_image_bytes) == (
        300,
        "graphemes",
        4,
        1_000_000,
    )
    assert limits.measure("👩‍⚕️🇨🇦é") == 3
    assert bluesky_length("a" * 300) == 300


def test_facets_use_utf8_byte_offsets() -> None:
    spans = facet_spans(TEXT)
    encoded = TEXT.encode()
    found = [(s.kind, s.value, encoded[s.byte_start : s.byte_end].decode()) for s in spans]
    assert found == [
        ("link", "https://clinic.example/flu", "https://clinic.example/flu"),
        ("tag", "FluSeason", "#FluSeason"),
        ("mention", "nurse.example.com", "@nurse.example.com"),
    ]
    # A URL's fragment is not a hashtag, an email address is not a mention.
    assert [s.kind for s in facet_spans("see https://a.example/#top or mail x@a.example.com")] == ["link"]


async def test_check_account_creates_a_session_and_keeps_it(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    check = await adapter.check_account(account)
    assert check.status == ACCOUNT_OK
    assert check.account_ref == did
    assert check.renewed is not None and check.renewed.account_ref == did
    assert check.renewed.settings["access_jwt"] in fake.jwts
    assert check.renewed.settings["refresh_jwt"] in fake.jwts
    # The next check refreshes the stored session rather than logging in again.
    again = await adapter.check_account(check.renewed)
    assert again.status == ACCOUNT_OK and fake.refreshes == 1 and fake.sessions_created == 1


async def test_post_text_with_facets(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    rkey = tid_for("clearpost-pub-1")
    record = fake.posts(did)[rkey]
    assert record["text"] == TEXT
    assert record["$type"] == "app.bsky.feed.post"
    nurse = next(a.did for a in fake.accounts.values() if a.handle == "nurse.example.com")
    features = [f["features"][0] for f in record["facets"]]
    assert features == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://clinic.example/flu"},
        {"$type": "app.bsky.richtext.facet#tag", "tag": "FluSeason"},
        {"$type": "app.bsky.richtext.facet#mention", "did": nurse},
    ]
    assert posted.external_id == f"at://{did}/app.bsky.feed.post/{rkey}"
    assert posted.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"


async def test_unknown_handles_are_left_as_text(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    await adapter.post(account, request_for("hi @nobody.example.org"), MemoryCheckpoints())
    assert "facets" not in fake.posts(did)[tid_for("clearpost-pub-1")]


async def test_post_with_images(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    media = (
        OutgoingMedia(digest="a" * 64, media_type="image/png", data=PNG),
        OutgoingMedia(digest="b" * 64, media_type="image/jpeg", data=PNG + b"2"),
    )
    await adapter.post(account, request_for("Two pictures", media), MemoryCheckpoints())
    embed = fake.posts(did)[tid_for("clearpost-pub-1")]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [image["alt"] for image in embed["images"]] == ["", ""]
    blobs = [fake.blobs[image["image"]["ref"]["$link"]] for image in embed["images"]]
    assert blobs == [PNG, PNG + b"2"]
    assert [image["image"]["mimeType"] for image in embed["images"]] == ["image/png", "image/jpeg"]


async def test_images_over_a_million_bytes_are_refused_before_sending(
    adapter: BlueskyAdapter, account: AccountCredentials, fake: FakePds
) -> None:
    big = (OutgoingMedia(digest="c" * 64, media_type="image/png", data=b"x" * 1_000_001),)
    with pytest.raises(NetworkRejected):
        await adapter.post(account, request_for("Big", big), MemoryCheckpoints())
    assert fake.blobs == {} and fake.posts() == {}


async def test_a_replay_returns_the_same_post(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    first = await adapter.post(account, request_for(), MemoryCheckpoints())
    again = await adapter.post(account, request_for(), MemoryCheckpoints())
    assert again.external_id == first.external_id
    assert len(fake.posts(did)) == 1
    found = await adapter.find(account, request_for(), MemoryCheckpoints(), since=datetime.now(UTC))
    assert found is not None and found.external_id == first.external_id
    other = await adapter.find(
        account, request_for(key="pub-2"), MemoryCheckpoints(), since=datetime.now(UTC)
    )
    assert other is None


async def test_accept_then_hang_makes_one_post(
    served: ServedApp, account: AccountCredentials, did: str, fake: FakePds, clock: ManualClock
) -> None:
    adapter = adapter_for(served.url, clock, timeout=0.3)
    fake.hang_next(CREATE, 0.8)
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    assert list(fake.posts(did)) == [tid_for("clearpost-pub-1")]
    assert posted.external_id.endswith(tid_for("clearpost-pub-1"))
    # The replay hit the taken key (500, retried), then getRecord found the post.
    assert sum(1 for _, path in fake.requests if path == f"/xrpc/{CREATE}") >= 2


async def test_5xx_on_create_then_success(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    fake.fail_next(CREATE, 502, times=2)
    await adapter.post(account, request_for(), MemoryCheckpoints())
    assert len(fake.posts(did)) == 1


async def test_5xx_on_every_try_is_unavailable_and_safe_to_retry(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    fake.fail_next(CREATE, 503, times=4)
    checkpoints = MemoryCheckpoints()
    with pytest.raises(NetworkUnavailable):
        await adapter.post(account, request_for(), checkpoints)
    assert fake.posts(did) == {}
    await adapter.post(account, request_for(), checkpoints)
    assert len(fake.posts(did)) == 1


async def test_429_waits_for_the_reset(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds, clock: ManualClock
) -> None:
    reset = str(int(clock.now()) + 7)
    fake.fail_next(CREATE, 429, headers={"ratelimit-remaining": "0", "ratelimit-reset": reset})
    await adapter.post(account, request_for(), MemoryCheckpoints())
    assert len(fake.posts(did)) == 1
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(7, abs=1)


async def test_a_spent_limit_far_away_raises_rate_limited(
    adapter: BlueskyAdapter, account: AccountCredentials, fake: FakePds, clock: ManualClock
) -> None:
    fake.set_rate_limit(0, reset_in=3600)
    with pytest.raises(RateLimited) as caught:
        await adapter.post(account, request_for(), MemoryCheckpoints())
    assert caught.value.retry_at == pytest.approx(clock.now() + 3600, abs=1)


async def test_an_expired_access_jwt_is_refreshed(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    renewed = (await adapter.check_account(account)).renewed
    assert renewed is not None
    fake.expire(renewed.settings["access_jwt"])
    fresh = adapter_for(renewed.base_url, ManualClock())
    await fresh.post(renewed, request_for(), MemoryCheckpoints())
    assert len(fake.posts(did)) == 1
    assert (fake.refreshes, fake.sessions_created) == (1, 1)


async def test_expired_refresh_falls_back_to_the_app_password(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    renewed = (await adapter.check_account(account)).renewed
    assert renewed is not None
    fake.expire_all()
    await adapter_for(renewed.base_url, ManualClock()).post(renewed, request_for(), MemoryCheckpoints())
    assert len(fake.posts(did)) == 1 and fake.sessions_created == 2


async def test_expired_session_without_an_app_password(
    adapter: BlueskyAdapter, account: AccountCredentials, fake: FakePds
) -> None:
    renewed = (await adapter.check_account(account)).renewed
    assert renewed is not None
    fake.expire_all()
    stored = AccountCredentials(
        network="bluesky",
        name="Clinic",
        base_url=renewed.base_url,
        identifier=HANDLE,
        account_ref=renewed.account_ref,
        settings=renewed.settings,
    )
    with pytest.raises(CredentialsRejected) as caught:
        await adapter_for(stored.base_url, ManualClock()).post(stored, request_for(), MemoryCheckpoints())
    assert caught.value.expired is True
    assert (await adapter.check_account(stored)).status == ACCOUNT_EXPIRED


async def test_revoked_app_password(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    renewed = (await adapter.check_account(account)).renewed
    assert renewed is not None
    fake.revoke_app_password(did)
    with pytest.raises(CredentialsRejected) as caught:
        await adapter_for(renewed.base_url, ManualClock()).post(renewed, request_for(), MemoryCheckpoints())
    assert caught.value.expired is False
    assert PASSWORD not in str(caught.value) and renewed.settings["access_jwt"] not in str(caught.value)
    check = await adapter.check_account(renewed)
    assert check.status == ACCOUNT_REVOKED
    assert "Invalid identifier or password" in check.reason


async def test_a_403_is_missing_scopes(
    adapter: BlueskyAdapter, account: AccountCredentials, fake: FakePds
) -> None:
    fake.fail_next(CREATE, 403)
    with pytest.raises(MissingScopes):
        await adapter.post(account, request_for(), MemoryCheckpoints())


async def test_unreachable_pds(clock: ManualClock) -> None:
    account = AccountCredentials(
        network="bluesky", name="x", base_url="http://127.0.0.1:9", identifier=HANDLE, app_password=PASSWORD
    )
    check = await adapter_for("http://127.0.0.1:9", clock).check_account(account)
    assert check.status == ACCOUNT_UNREACHABLE


async def test_delete_and_delete_again(
    adapter: BlueskyAdapter, account: AccountCredentials, did: str, fake: FakePds
) -> None:
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    first = await adapter.delete(account, posted.external_id)
    assert (first.status_code, first.already_gone) == (200, False)
    assert fake.deleted == [posted.external_id] and fake.posts() == {}
    again = await adapter.delete(account, posted.external_id)
    assert again.already_gone is True and again.answer.startswith("RecordNotFound")


async def test_replies_walk_the_thread(
    adapter: BlueskyAdapter, account: AccountCredentials, fake: FakePds
) -> None:
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    nurse = next(a.did for a in fake.accounts.values() if a.handle == "nurse.example.com")
    root = {"uri": posted.external_id, "cid": "x"}
    fake.records[(nurse, "app.bsky.feed.post", "3kaaaaaaaaaa2")] = {
        "$type": "app.bsky.feed.post",
        "text": "Booked!",
        "createdAt": "2026-12-01T10:00:00.000Z",
        "reply": {"root": root, "parent": root},
    }
    child = {"uri": f"at://{nurse}/app.bsky.feed.post/3kaaaaaaaaaa2", "cid": "y"}
    fake.records[(nurse, "app.bsky.feed.post", "3kaaaaaaaaaa3")] = {
        "$type": "app.bsky.feed.post",
        "text": "Me too",
        "createdAt": "2026-12-01T10:05:00.000Z",
        "reply": {"root": root, "parent": child},
    }
    replies = await adapter.replies(account, posted.external_id)
    assert [(r.author, r.text, r.in_reply_to) for r in replies] == [
        ("nurse.example.com", "Booked!", posted.external_id),
        ("nurse.example.com", "Me too", child["uri"]),
    ]
    assert replies[0].url == "https://bsky.app/profile/nurse.example.com/post/3kaaaaaaaaaa2"
    assert replies[0].created_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_split_at_uri() -> None:
    assert split_at_uri("at://did:plc:x/app.bsky.feed.post/3k") == ("did:plc:x", "app.bsky.feed.post", "3k")
    with pytest.raises(NetworkRejected):
        split_at_uri("https://bsky.app/profile/x/post/3k")
