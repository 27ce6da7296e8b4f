"""The Instagram business adapter against the Meta Graph fake, over real loopback HTTP (the fake
fetches each image from a second loopback server standing in for the publisher's media URLs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from services.publisher.channels import OutgoingMedia
from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    AccountCredentials,
    AmbiguousOutcome,
    CommentModerator,
    CredentialsRejected,
    MissingScopes,
    NetworkAdapter,
    NetworkRejected,
    NotSupported,
    PostRequest,
)
from services.publisher.networks.instagram import (
    CONTAINER,
    POLL_SECONDS,
    POSTED,
    InstagramAdapter,
    count_hashtags,
)
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.networks.meta_state import FakeContainer
from tests.unit.meta_support import IG_ID, PAGE_ID, MediaHost, MetaWorld, jpeg

pytest_plugins = ["tests.unit.meta_fixtures"]

CAPTION = "Flu shots this week at Riverside Clinic. #flushot #health"


def adapter(world: MetaWorld, **config: float) -> InstagramAdapter:
    return InstagramAdapter(world.config(**config), sleep=world.clock.sleep, clock=world.clock.now)


async def connect(world: MetaWorld, ig: InstagramAdapter) -> AccountCredentials:
    return await ig.account_from_grant("Riverside IG", {"access_token": world.user_token()}, target=IG_ID)


def images(host: MediaHost, count: int, media_type: str = "image/jpeg") -> PostRequest:
    media = []
    urls = {}
    for n in range(count):
        item = OutgoingMedia(f"sha256-{n}", media_type, jpeg(n))
        host.images[item.digest] = (item.data, media_type)
        urls[item.digest] = host.url(item.digest)
        media.append(item)
    return PostRequest(
        publication_id="pub-1", idempotency_key="idem-1", text=CAPTION, media=tuple(media), media_urls=urls
    )


def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def test_the_adapter_implements_the_interface(meta_world: MetaWorld) -> None:
    assert isinstance(adapter(meta_world), NetworkAdapter)


async def test_connect_finds_the_instagram_account_through_its_page(meta_world: MetaWorld) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    assert account.account_ref == IG_ID
    assert account.settings == {"page_id": PAGE_ID, "username": "riverside.clinic"}
    assert meta_world.fake.tokens[str(account.access_token)].page_id == PAGE_ID
    with pytest.raises(NetworkRejected):
        await ig.account_from_grant("X", {"access_token": meta_world.user_token()}, target="178414999")


async def test_post_one_image_the_network_fetched_and_shows_what_was_sent(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    checkpoints = MemoryCheckpoints()
    sent = images(media_host, 1)
    posted = await ig.post(account, sent, checkpoints)
    [media] = meta_world.fake.live_media(IG_ID)
    assert media.caption == CAPTION and media.images == [sent.media[0].data]  # fetched from the URL
    assert media_host.fetched == ["sha256-0"]
    assert posted.external_id == media.id and posted.url == media.permalink
    assert checkpoints.values[CONTAINER] == media.container_id
    assert meta_world.fake.tokens_in_query == []


async def test_several_images_make_one_carousel(meta_world: MetaWorld, media_host: MediaHost) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    sent = images(media_host, 3)
    await ig.post(account, sent, MemoryCheckpoints())
    [media] = meta_world.fake.live_media(IG_ID)
    assert media.images == [item.data for item in sent.media]
    assert meta_world.fake.containers[media.container_id].media_type == "CAROUSEL"


async def test_the_container_is_polled_until_finished(meta_world: MetaWorld, media_host: MediaHost) -> None:
    meta_world.fake.container_polls = 3
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    assert meta_world.clock.slept == [POLL_SECONDS] * 3
    assert len(meta_world.fake.live_media(IG_ID)) == 1


async def test_without_a_public_media_url_the_post_is_refused_clearly(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    request = images(media_host, 1)
    no_urls = PostRequest(publication_id="p", idempotency_key="k", text=CAPTION, media=request.media)
    with pytest.raises(NetworkRejected, match="public URL"):
        await ig.post(account, no_urls, MemoryCheckpoints())
    with pytest.raises(NetworkRejected, match="at least one image"):
        await ig.post(account, PostRequest("p", "k", CAPTION), MemoryCheckpoints())
    with pytest.raises(NetworkRejected, match="JPEG"):
        await ig.post(account, images(media_host, 1, "image/png"), MemoryCheckpoints())
    assert meta_world.fake.containers == {}


async def test_an_image_url_the_network_cannot_fetch_is_refused(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    request = images(media_host, 1)
    media_host.images.clear()  # the URL expired
    with pytest.raises(NetworkRejected, match="Media download has failed"):
        await ig.post(account, request, MemoryCheckpoints())
    assert meta_world.fake.live_media(IG_ID) == []


async def test_accept_then_hang_on_publish_then_the_replay_finds_the_one_media(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world, timeout_seconds=0.3)
    account = await connect(meta_world, ig)
    checkpoints = MemoryCheckpoints()
    request = images(media_host, 1)
    meta_world.fake.hang_next(f"/{IG_ID}/media_publish", 1.0)
    with pytest.raises(AmbiguousOutcome):
        await ig.post(account, request, checkpoints)
    assert CONTAINER in checkpoints.values and POSTED not in checkpoints.values
    again = await ig.post(account, request, checkpoints)
    [media] = meta_world.fake.live_media(IG_ID)
    assert again.external_id == media.id
    assert meta_world.fake.requests.count(("POST", f"/{IG_ID}/media_publish")) == 1
    assert meta_world.fake.requests.count(("POST", f"/{IG_ID}/media")) == 1  # no second container either


async def test_a_5xx_to_publish_then_the_replay_publishes_the_stored_container(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    checkpoints = MemoryCheckpoints()
    request = images(media_host, 1)
    meta_world.fake.fail_next(f"/{IG_ID}/media_publish", status=503)
    with pytest.raises(AmbiguousOutcome):
        await ig.post(account, request, checkpoints)
    assert await ig.find(account, request, checkpoints, since=since()) is None  # container never published
    await ig.post(account, request, checkpoints)
    [media] = meta_world.fake.live_media(IG_ID)
    assert media.container_id == checkpoints.values[CONTAINER]
    assert meta_world.fake.requests.count(("POST", f"/{IG_ID}/media")) == 1


@pytest.mark.parametrize("status_code", ["ERROR", "EXPIRED"])
async def test_a_stored_container_that_failed_is_replaced(
    meta_world: MetaWorld, media_host: MediaHost, status_code: str
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    dead = FakeContainer("999", IG_ID, CAPTION, "IMAGE", status_code=status_code)
    meta_world.fake.containers[dead.id] = dead
    checkpoints = MemoryCheckpoints()
    checkpoints.values[CONTAINER] = dead.id
    await ig.post(account, images(media_host, 1), checkpoints)
    [media] = meta_world.fake.live_media(IG_ID)
    assert media.container_id != dead.id == "999"


async def test_find_without_notes_matches_the_caption(meta_world: MetaWorld, media_host: MediaHost) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    posted = await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    found = await ig.find(account, images(media_host, 1), MemoryCheckpoints(), since=since())
    assert found is not None and found.external_id == posted.external_id
    other = PostRequest("p", "k", "another caption")
    assert await ig.find(account, other, MemoryCheckpoints(), since=since()) is None


async def test_a_spent_rate_limit_waits_and_succeeds(meta_world: MetaWorld, media_host: MediaHost) -> None:
    meta_world.fake.rate_limit_status = 429
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    meta_world.fake.set_rate_limit(0, regain_minutes=1)
    await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    assert len(meta_world.fake.live_media(IG_ID)) == 1 and 60.0 in meta_world.clock.slept


async def test_expired_revoked_and_missing_scopes(meta_world: MetaWorld, media_host: MediaHost) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    assert (await ig.check_account(account)).display_name == "riverside.clinic"
    meta_world.fake.drop_scope(str(account.refresh_token), "instagram_content_publish")
    with pytest.raises(MissingScopes) as missing:
        await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    assert missing.value.scopes == ("instagram_content_publish",)
    assert (await ig.check_account(account)).status == ACCOUNT_MISSING_SCOPES

    fresh = await connect(meta_world, ig)
    meta_world.fake.expire(str(fresh.access_token))
    meta_world.fake.expire(str(fresh.refresh_token))
    with pytest.raises(CredentialsRejected) as expired:
        await ig.post(fresh, images(media_host, 1), MemoryCheckpoints())
    assert expired.value.expired and (await ig.check_account(fresh)).status == ACCOUNT_EXPIRED

    other = await connect(meta_world, ig)
    meta_world.fake.revoke(str(other.refresh_token), subcode=460)
    assert (await ig.check_account(other)).status == ACCOUNT_REVOKED
    with pytest.raises(CredentialsRejected):
        await ig.refresh(other)


async def test_refresh_gives_a_working_page_token(meta_world: MetaWorld) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    renewed = await ig.refresh(account)
    assert renewed.refresh_token != account.refresh_token and renewed.account_ref == IG_ID
    assert (await ig.check_account(renewed)).status == ACCOUNT_OK


async def test_delete_asks_graph_and_where_it_cannot_says_what_to_do(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    posted = await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    with pytest.raises(NotSupported, match="by hand in the Instagram app"):
        await ig.delete(account, posted.external_id)
    assert ("DELETE", f"/{posted.external_id}") in meta_world.fake.requests
    gone = await ig.delete(account, "17900000000000000")  # a post that is not there: nothing to do
    assert gone.already_gone


async def test_replies_are_the_medias_comments(meta_world: MetaWorld, media_host: MediaHost) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    posted = await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    meta_world.fake.comment(posted.external_id, "Do I need an appointment?", author="sam_r")
    [reply] = await ig.replies(account, posted.external_id)
    assert (reply.author, reply.text, reply.in_reply_to) == (
        "sam_r",
        "Do I need an appointment?",
        posted.external_id,
    )


def test_limits_as_instagram_counts_them(meta_world: MetaWorld) -> None:
    limits = adapter(meta_world).limits(AccountCredentials(network="instagram", name="x", base_url="x"))
    assert (limits.max_length, limits.max_hashtags, limits.max_images) == (2_200, 30, 10)
    assert limits.requires_image
    assert count_hashtags("#one #two&#three not#four, (#five) &#38;") == 3


async def test_too_many_hashtags_are_refused_before_anything_is_sent(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    account = await connect(meta_world, ig)
    request = images(media_host, 1)
    tagged = PostRequest(
        "p", "k", " ".join(f"#tag{n}" for n in range(31)), media=request.media, media_urls=request.media_urls
    )
    with pytest.raises(NetworkRejected, match="hashtags"):
        await ig.post(account, tagged, MemoryCheckpoints())
    assert meta_world.fake.containers == {}
    assert json.dumps(meta_world.fake.requests).count("/media") == 0


async def test_a_comment_is_hidden_through_the_graph_api(
    meta_world: MetaWorld, media_host: MediaHost
) -> None:
    ig = adapter(meta_world)
    assert isinstance(ig, CommentModerator)
    account = await connect(meta_world, ig)
    posted = await ig.post(account, images(media_host, 1), MemoryCheckpoints())
    comment = meta_world.fake.comment(
        posted.external_id, "My daughter Ana Ruiz, room 12, has cancer", author="mom"
    )
    await ig.hide_comment(account, comment.id)
    assert comment.is_hidden
    [reply] = await ig.replies(account, posted.external_id)  # still there for the account, hidden
    assert reply.external_id == comment.id
