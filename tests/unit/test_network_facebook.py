"""The Facebook Page adapter against the Meta Graph fake, over real loopback HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]

from services.publisher.channels import OutgoingMedia
from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    AccountCredentials,
    AmbiguousOutcome,
    CredentialsRejected,
    MissingScopes,
    NetworkAdapter,
    NetworkRejected,
    PostRequest,
    RateLimited,
)
from services.publisher.networks.facebook import POSTED, SENT, FacebookAdapter
from services.publisher.networks.meta import GRAPH_VERSION
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.networks.meta_state import FakePost
from tests.unit.meta_support import PAGE_ID, REDIRECT_URI, MetaWorld, jpeg

pytest_plugins = ["tests.unit.meta_fixtures"]

TEXT = "Flu shots are available at Riverside Clinic this week. Walk-ins welcome 💉"


def adapter(world: MetaWorld, **config: float) -> FacebookAdapter:
    return FacebookAdapter(world.config(**config), sleep=world.clock.sleep, clock=world.clock.now)


async def connect(world: MetaWorld, fb: FacebookAdapter | None = None) -> AccountCredentials:
    fb = fb or adapter(world)
    return await fb.account_from_grant("Riverside", {"access_token": world.user_token()}, target=PAGE_ID)


def request(text: str = TEXT, media: tuple[OutgoingMedia, ...] = ()) -> PostRequest:
    return PostRequest(publication_id="pub-1", idempotency_key="idem-1", text=text, media=media)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def rate_limit_body() -> dict[str, object]:
    return {
        "error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}
    }


def usage_headers(minutes: int) -> dict[str, str]:
    usage = [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": minutes}]
    return {"X-Business-Use-Case-Usage": json.dumps({PAGE_ID: usage})}


def test_the_adapter_implements_the_interface(meta_world: MetaWorld) -> None:
    assert isinstance(adapter(meta_world), NetworkAdapter)


async def test_connect_reads_the_page_token_with_a_long_lived_user_token(meta_world: MetaWorld) -> None:
    fresh = meta_world.user_token()
    account = await adapter(meta_world).account_from_grant(
        "Riverside", {"access_token": fresh}, target=PAGE_ID
    )
    page_token = meta_world.fake.tokens[str(account.access_token)]
    assert (page_token.kind, page_token.page_id, page_token.expires_in) == ("page", PAGE_ID, None)
    assert account.refresh_token not in (None, fresh)  # the long-lived user token, not the fresh one
    assert account.account_ref == PAGE_ID and account.expires_at is None
    assert "pages_manage_posts" in account.scopes
    assert account.settings["page_name"] == "Riverside Clinic"


async def test_connect_to_a_page_the_user_does_not_manage_is_refused(meta_world: MetaWorld) -> None:
    with pytest.raises(NetworkRejected, match="not among the Pages"):
        await adapter(meta_world).account_from_grant(
            "X", {"access_token": meta_world.user_token()}, target="999"
        )


async def test_post_text_shows_exactly_what_was_sent(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    posted = await fb.post(account, request(), MemoryCheckpoints())
    [post] = meta_world.fake.live_posts(PAGE_ID)
    assert post.message == TEXT and post.photo_ids == []
    assert posted.external_id == post.id and posted.url == post.permalink_url
    assert meta_world.fake.tokens_in_query == []  # the token travels in the Authorization header only


async def test_post_with_images_attaches_the_uploaded_photos(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    images = tuple(OutgoingMedia(f"sha256-{i}", "image/jpeg", jpeg(i)) for i in range(3))
    checkpoints = MemoryCheckpoints()
    await fb.post(account, request(media=images), checkpoints)
    [post] = meta_world.fake.live_posts(PAGE_ID)
    assert [meta_world.fake.photos[photo].data for photo in post.photo_ids] == [
        image.data for image in images
    ]
    assert all(meta_world.fake.photos[photo].published for photo in post.photo_ids)
    assert set(json.loads(checkpoints.values["facebook.photos"])) == {image.digest for image in images}


async def test_accept_then_hang_is_ambiguous_and_the_retry_finds_the_one_post(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world, timeout_seconds=0.3)
    account = await connect(meta_world, fb)
    checkpoints = MemoryCheckpoints()
    meta_world.fake.hang_next(f"/{PAGE_ID}/feed", 1.0)
    with pytest.raises(AmbiguousOutcome):
        await fb.post(account, request(), checkpoints)
    assert SENT in checkpoints.values and POSTED not in checkpoints.values
    found = await fb.find(account, request(), MemoryCheckpoints(), since=since())  # even without our notes
    again = await fb.post(account, request(), checkpoints)
    [post] = meta_world.fake.live_posts(PAGE_ID)
    assert found is not None and found.external_id == again.external_id == post.id
    assert meta_world.fake.requests.count(("POST", f"/{PAGE_ID}/feed")) == 1


async def test_a_5xx_to_the_create_is_ambiguous_and_the_retry_posts_once(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    checkpoints = MemoryCheckpoints()
    meta_world.fake.fail_next(f"/{PAGE_ID}/feed", status=500)
    with pytest.raises(AmbiguousOutcome):
        await fb.post(account, request(), checkpoints)
    assert meta_world.fake.live_posts(PAGE_ID) == []
    await fb.post(account, request(), checkpoints)  # looks first, finds nothing, posts
    assert len(meta_world.fake.live_posts(PAGE_ID)) == 1


async def test_a_stored_post_is_never_sent_again(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    checkpoints = MemoryCheckpoints()
    first = await fb.post(account, request(), checkpoints)
    second = await fb.post(account, request(), checkpoints)
    assert first.external_id == second.external_id
    assert len(meta_world.fake.live_posts(PAGE_ID)) == 1


async def test_find_pages_with_the_after_cursor_and_matches_the_exact_text(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    ours = await fb.post(account, request(), MemoryCheckpoints())
    for n in range(120):  # newer posts push ours to the second page of 100
        meta_world.fake.posts[f"{PAGE_ID}_x{n}"] = FakePost(
            f"{PAGE_ID}_x{n}", PAGE_ID, f"{TEXT} ({n})", meta_world.clock.now() + 1 + n, []
        )
    found = await fb.find(account, request(), MemoryCheckpoints(), since=since())
    assert found is not None and found.external_id == ours.external_id
    assert await fb.find(account, request("Something else"), MemoryCheckpoints(), since=since()) is None
    assert meta_world.fake.tokens_in_query == []


@pytest.mark.parametrize("status", [400, 429])
async def test_a_spent_rate_limit_waits_for_the_reset_and_succeeds(
    meta_world: MetaWorld, status: int
) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.fail_next(
        f"/{PAGE_ID}/feed", status=status, body=rate_limit_body(), headers=usage_headers(1)
    )
    await fb.post(account, request(), MemoryCheckpoints())
    assert len(meta_world.fake.live_posts(PAGE_ID)) == 1
    assert 60.0 in meta_world.clock.slept  # estimated_time_to_regain_access: 1 minute


async def test_the_fakes_spent_budget_resets_after_the_wait(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.set_rate_limit(0, regain_minutes=1)
    await fb.post(account, request(), MemoryCheckpoints())
    assert len(meta_world.fake.live_posts(PAGE_ID)) == 1 and sum(meta_world.clock.slept) >= 60


async def test_a_rate_limit_longer_than_we_wait_raises_rate_limited(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.fail_next(
        f"/{PAGE_ID}/feed", status=400, body=rate_limit_body(), headers=usage_headers(30)
    )
    with pytest.raises(RateLimited) as caught:
        await fb.post(account, request(), MemoryCheckpoints())
    assert caught.value.retry_at == pytest.approx(meta_world.clock.now() + 1800)
    assert meta_world.fake.live_posts(PAGE_ID) == []


@pytest.mark.parametrize("status", [400, 401])
async def test_an_expired_token_is_reported_as_expired(meta_world: MetaWorld, status: int) -> None:
    meta_world.fake.token_error_status = status
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.expire(str(account.access_token))
    with pytest.raises(CredentialsRejected) as caught:
        await fb.post(account, request(), MemoryCheckpoints())
    assert caught.value.expired
    assert str(account.access_token) not in str(caught.value)
    meta_world.fake.expire(str(account.refresh_token))  # and the user token cannot renew it
    check = await fb.check_account(account)
    assert check.status == ACCOUNT_EXPIRED and check.renewed is None


async def test_check_account_renews_an_expired_page_token_from_the_user_token(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.expire(str(account.access_token))
    check = await fb.check_account(account)
    assert check.status == ACCOUNT_OK and check.renewed is not None
    assert check.renewed.access_token != account.access_token
    await fb.post(check.renewed, request(), MemoryCheckpoints())
    assert len(meta_world.fake.live_posts(PAGE_ID)) == 1


async def test_a_revoked_grant_is_reported_as_revoked(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.revoke(str(account.refresh_token))
    with pytest.raises(CredentialsRejected) as caught:
        await fb.post(account, request(), MemoryCheckpoints())
    assert not caught.value.expired
    assert (await fb.check_account(account)).status == ACCOUNT_REVOKED
    with pytest.raises(CredentialsRejected):
        await fb.refresh(account)


async def test_a_missing_permission_is_reported_with_its_name(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    meta_world.fake.drop_scope(str(account.refresh_token), "pages_manage_posts")
    with pytest.raises(MissingScopes) as caught:
        await fb.post(account, request(), MemoryCheckpoints())
    assert caught.value.scopes == ("pages_manage_posts",)
    check = await fb.check_account(account)
    assert check.status == ACCOUNT_MISSING_SCOPES and "pages_manage_posts" in check.reason


async def test_check_account_ok_names_the_page(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    check = await fb.check_account(await connect(meta_world, fb))
    assert (check.status, check.display_name, check.account_ref) == (ACCOUNT_OK, "Riverside Clinic", PAGE_ID)


async def test_delete_and_delete_again(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    posted = await fb.post(account, request(), MemoryCheckpoints())
    first = await fb.delete(account, posted.external_id)
    second = await fb.delete(account, posted.external_id)
    assert (first.already_gone, second.already_gone) == (False, True)
    assert meta_world.fake.deleted == [posted.external_id] and meta_world.fake.live_posts(PAGE_ID) == []


async def test_replies_are_the_posts_comments(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    account = await connect(meta_world, fb)
    posted = await fb.post(account, request(), MemoryCheckpoints())
    meta_world.fake.comment(posted.external_id, "Is there parking?", author="Sam")
    [reply] = await fb.replies(account, posted.external_id)
    assert (reply.author, reply.text, reply.in_reply_to) == ("Sam", "Is there parking?", posted.external_id)
    assert reply.created_at is not None


def test_limits_count_characters(meta_world: MetaWorld) -> None:
    limits = adapter(meta_world).limits(AccountCredentials(network="facebook", name="x", base_url="x"))
    assert (limits.max_length, limits.max_images, limits.requires_image) == (63_206, 10, False)
    assert limits.measure("💉 shots") == 7


async def test_oauth_authorize_token_and_refresh_against_the_fake(meta_world: MetaWorld) -> None:
    fb = adapter(meta_world)
    endpoints = fb.oauth_endpoints()
    assert endpoints.authorize_url == f"{meta_world.served.url}/{GRAPH_VERSION}/dialog/oauth"
    verifier = generate_token(48)
    async with AsyncOAuth2Client(
        client_id=meta_world.fake.client_id,
        client_secret=meta_world.fake.client_secret,
        redirect_uri=REDIRECT_URI,
        scope=" ".join(endpoints.scopes),
        code_challenge_method="S256",
        token_endpoint_auth_method=endpoints.token_auth,
        trust_env=False,
    ) as client:
        url, state = client.create_authorization_url(endpoints.authorize_url, code_verifier=verifier)
        async with httpx.AsyncClient(trust_env=False) as browser:
            answer = await browser.get(url, follow_redirects=False)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI) and parse_qs(urlsplit(location).query)["state"] == [state]
        token = await client.fetch_token(
            endpoints.token_url, authorization_response=location, code_verifier=verifier
        )
    account = await fb.account_from_grant("Riverside", token, target=PAGE_ID)
    renewed = await fb.refresh(account)
    assert renewed.refresh_token != account.refresh_token
    assert (await fb.check_account(renewed)).status == ACCOUNT_OK


async def test_the_login_dialog_and_token_endpoint_check_what_they_are_given(meta_world: MetaWorld) -> None:
    base = f"{meta_world.served.url}/{GRAPH_VERSION}"
    good = {
        "client_id": meta_world.fake.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "pages_show_list",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        "state": "s",
    }
    async with httpx.AsyncClient(trust_env=False) as browser:
        for broken in (
            {"client_id": "nope"},
            {"redirect_uri": "http://127.0.0.1:9/elsewhere"},
            {"code_challenge_method": "plain"},
            {"scope": "pages_show_list,make_coffee"},
        ):
            answer = await browser.get(f"{base}/dialog/oauth", params={**good, **broken})
            assert answer.status_code == 400, broken
        answer = await browser.get(f"{base}/dialog/oauth", params=good)
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        refused = await browser.post(
            f"{base}/oauth/access_token",
            data={
                "client_id": meta_world.fake.client_id,
                "client_secret": meta_world.fake.client_secret,
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": "not-the-verifier",
            },
        )
        assert refused.status_code == 400 and refused.json()["error"]["message"] == "Invalid code verifier"
        refresh = await browser.post(
            f"{base}/oauth/access_token",
            data={
                "client_id": meta_world.fake.client_id,
                "client_secret": meta_world.fake.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": "x",
            },
        )
        assert refresh.status_code == 400  # Meta has no refresh tokens
