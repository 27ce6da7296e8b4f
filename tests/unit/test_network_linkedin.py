"""The LinkedIn adapter against the local LinkedIn fake, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
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
    NetworkConfig,
    NetworkRejected,
    PostRequest,
)
from services.publisher.networks.linkedin import (
    LINKEDIN_VERSION,
    SCOPES,
    LinkedInAdapter,
    escape_little,
    unescape_little,
)
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.networks.linkedin import FakeLinkedInState, create_app, render_little
from tests.fakes.serve import ServedApp

ORG = "urn:li:organization:2414183"
TRICKY = "Flu shots (free!) at 9am @front desk [room 2] <3 #health *new* _today_ ~ {a|b} \\o/"


@dataclass
class World:
    url: str
    fake: FakeLinkedInState
    sleeps: list[float]

    def adapter(self, *, timeout: float = 5.0) -> LinkedInAdapter:
        async def record(seconds: float) -> None:
            self.sleeps.append(seconds)

        config = NetworkConfig(
            api_base_url=self.url,
            auth_base_url=self.url,
            client_id="li-client",
            client_secret="li-secret",
            timeout_seconds=timeout,
        )
        return LinkedInAdapter(config, sleep=record)

    def account(self, scopes: tuple[str, ...] = SCOPES) -> AccountCredentials:
        token = self.fake.grant(scopes)
        return AccountCredentials(
            network="linkedin",
            name="clinic",
            base_url=self.url,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            account_ref=ORG,
            scopes=scopes,
        )


@pytest.fixture
def world() -> Iterator[World]:
    app = create_app()
    with ServedApp(app) as served:
        yield World(served.url, app.state.fake, [])


def request(text: str = "Clinic open today.", media: tuple[OutgoingMedia, ...] = ()) -> PostRequest:
    return PostRequest(publication_id="pub-1", idempotency_key="pub-1:linkedin", text=text, media=media)


def png(n: int) -> OutgoingMedia:
    return OutgoingMedia(digest=f"sha256:{n}", media_type="image/png", data=b"\x89PNG" + bytes([n]) * 32)


def test_little_text_round_trip() -> None:
    assert unescape_little(escape_little(TRICKY)) == TRICKY
    # Unescaped, LinkedIn cuts the text at the first reserved character: the fake does too.
    assert render_little("Open (today)") == "Open "
    assert render_little(escape_little("Open (today)")) == "Open (today)"


async def test_post_text_shows_exactly_what_was_approved(world: World) -> None:
    adapter = world.adapter()
    posted = await adapter.post(world.account(), request(TRICKY), MemoryCheckpoints())
    assert posted.external_id.startswith("urn:li:share:")
    assert posted.url == f"https://www.linkedin.com/feed/update/{posted.external_id}/"
    assert world.fake.shown(posted.external_id) == TRICKY
    sent = world.fake.posts[posted.external_id].payload
    assert sent["author"] == ORG and sent["visibility"] == "PUBLIC" and sent["lifecycleState"] == "PUBLISHED"
    assert sent["distribution"]["feedDistribution"] == "MAIN_FEED"
    assert world.fake.versions_seen and set(world.fake.versions_seen) == {LINKEDIN_VERSION}


async def test_post_with_one_image_and_with_several(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    one = await adapter.post(account, request("One", (png(1),)), MemoryCheckpoints())
    content = world.fake.posts[one.external_id].content or {}
    image = world.fake.images[content["media"]["id"]]
    assert image.data == png(1).data and image.owner == ORG

    three = await adapter.post(account, request("Three", (png(1), png(2), png(3))), MemoryCheckpoints())
    content = world.fake.posts[three.external_id].content or {}
    ids = [item["id"] for item in content["multiImage"]["images"]]
    assert [world.fake.images[i].data for i in ids] == [png(n).data for n in (1, 2, 3)]


async def test_accept_then_hang_is_ambiguous_and_the_retry_finds_the_one_post(world: World) -> None:
    account, checkpoints = world.account(), MemoryCheckpoints()
    since = datetime.now(UTC)
    world.fake.plan.hang_next("POST", "/rest/posts", 1.5)
    with pytest.raises(AmbiguousOutcome):
        await world.adapter(timeout=0.5).post(account, request(TRICKY), checkpoints)
    assert len(world.fake.posts) == 1

    adapter = world.adapter()
    found = await adapter.find(account, request(TRICKY), checkpoints, since=since)
    assert found is not None and found.external_id in world.fake.posts
    again = await adapter.post(account, request(TRICKY), checkpoints)
    assert again.external_id == found.external_id
    assert len(world.fake.posts) == 1


async def test_a_duplicate_refusal_after_an_unseen_earlier_attempt_returns_that_post(world: World) -> None:
    account, checkpoints = world.account(), MemoryCheckpoints()
    world.fake.plan.hang_next("POST", "/rest/posts", 1.5)
    with pytest.raises(AmbiguousOutcome):
        await world.adapter(timeout=0.5).post(account, request(), checkpoints)
    (first,) = world.fake.posts
    world.fake.unlisted.add(first)  # find cannot see it yet; LinkedIn's duplicate refusal names it
    again = await world.adapter().post(account, request(), checkpoints)
    assert again.external_id == first and len(world.fake.posts) == 1
    # Another publication with the same text is refused, not handed this post.
    other = PostRequest(publication_id="pub-2", idempotency_key="pub-2:linkedin", text="Clinic open today.")
    with pytest.raises(NetworkRejected, match="duplicate"):
        await world.adapter().post(account, other, MemoryCheckpoints())


async def test_5xx_on_create_is_ambiguous_and_the_retry_posts_once(world: World) -> None:
    account, checkpoints = world.account(), MemoryCheckpoints()
    world.fake.plan.fail_next("POST", "/rest/posts", 500)
    with pytest.raises(AmbiguousOutcome):
        await world.adapter().post(account, request(), checkpoints)
    assert world.fake.posts == {}
    posted = await world.adapter().post(account, request(), checkpoints)
    assert list(world.fake.posts) == [posted.external_id]
    # And once it is known, a further call answers from the checkpoint, sending nothing.
    sent_before = len(world.fake.plan.requests)
    assert (await world.adapter().post(account, request(), checkpoints)).external_id == posted.external_id
    assert len(world.fake.plan.requests) == sent_before


async def test_429_without_reset_header_backs_off_and_succeeds(world: World) -> None:
    world.fake.plan.fail_next("POST", "/rest/posts", 429, times=2)
    posted = await world.adapter().post(world.account(), request(), MemoryCheckpoints())
    assert list(world.fake.posts) == [posted.external_id]
    assert len(world.sleeps) == 2 and all(0 < s <= 5 for s in world.sleeps)


async def test_expired_token(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    world.fake.tokens.expire(account.access_token or "")
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(account, request(), MemoryCheckpoints())
    assert caught.value.expired is True
    assert (account.access_token or "") not in str(caught.value)
    assert (await adapter.check_account(account)).status == ACCOUNT_EXPIRED


async def test_expired_token_is_renewed_by_check_account(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    world.fake.tokens.expire(account.access_token or "")
    stale = replace(account, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    check = await adapter.check_account(stale)
    assert check.status == ACCOUNT_OK and check.renewed is not None
    assert check.renewed.access_token != account.access_token
    await adapter.post(check.renewed, request(), MemoryCheckpoints())
    assert len(world.fake.posts) == 1


async def test_revoked_token(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    world.fake.tokens.revoke(account.access_token or "")
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(account, request(), MemoryCheckpoints())
    assert caught.value.expired is False
    assert (await adapter.check_account(account)).status == ACCOUNT_REVOKED
    # Without introspection (no client secret) the ACL call says the same.
    bare = LinkedInAdapter(NetworkConfig(api_base_url=world.url, auth_base_url=world.url))
    assert (await bare.check_account(replace(account, scopes=()))).status == ACCOUNT_REVOKED


async def test_missing_scope(world: World) -> None:
    adapter = world.adapter()
    account = world.account(("r_organization_social", "rw_organization_admin"))
    with pytest.raises(MissingScopes):
        await adapter.post(account, request(), MemoryCheckpoints())
    check = await adapter.check_account(account)
    assert check.status == ACCOUNT_MISSING_SCOPES and "w_organization_social" in check.reason
    assert (await adapter.check_account(world.account())).status == ACCOUNT_OK


async def test_delete_and_delete_again(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    posted = await adapter.post(account, request(), MemoryCheckpoints())
    first = await adapter.delete(account, posted.external_id)
    assert first.status_code == 204 and not first.already_gone
    assert world.fake.deleted == [posted.external_id] and world.fake.posts == {}
    second = await adapter.delete(account, posted.external_id)
    assert second.status_code == 404 and second.already_gone


async def test_replies(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    posted = await adapter.post(account, request(), MemoryCheckpoints())
    world.fake.add_comment(posted.external_id, "urn:li:person:patient1", "Is it walk-in?")
    replies = await adapter.replies(account, posted.external_id)
    assert [(r.author, r.text, r.in_reply_to) for r in replies] == [
        ("urn:li:person:patient1", "Is it walk-in?", posted.external_id)
    ]
    assert replies[0].created_at is not None


async def test_limits_count_what_viewers_see(world: World) -> None:
    limits = world.adapter().limits(world.account())
    assert limits.max_length == 3000 and limits.max_images == 20
    assert limits.measure("(a)") == 3
    with pytest.raises(NetworkRejected):
        await world.adapter().post(world.account(), request("x" * 3001), MemoryCheckpoints())


async def test_oauth_authorize_token_refresh_and_account_from_grant(world: World) -> None:
    adapter = world.adapter()
    endpoints = adapter.oauth_endpoints()
    assert endpoints.scopes == SCOPES
    redirect_uri = "https://clearpost.example/oauth/linkedin/callback"
    async with AsyncOAuth2Client(
        client_id="li-client",
        client_secret="li-secret",
        scope=" ".join(endpoints.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=endpoints.token_auth,
    ) as client:
        verifier = "v" * 64
        url, state = client.create_authorization_url(endpoints.authorize_url, code_verifier=verifier)
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(redirect_uri)
        assert parse_qs(urlsplit(location).query)["state"] == [state]
        with pytest.raises(Exception, match="code_verifier"):
            await client.fetch_token(
                endpoints.token_url, authorization_response=location, code_verifier="w" * 64
            )
        url, state = client.create_authorization_url(endpoints.authorize_url, code_verifier=verifier)
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            location = (await browser.get(url)).headers["location"]
        token = await client.fetch_token(
            endpoints.token_url, authorization_response=location, code_verifier=verifier
        )
    assert token["refresh_token_expires_in"] > 0

    with pytest.raises(NetworkRejected):
        await adapter.account_from_grant("clinic", token, target="999")
    account = await adapter.account_from_grant("clinic", token, target="2414183")
    assert account.account_ref == ORG and set(account.scopes) == set(SCOPES)
    assert account.settings["organization_name"] == "Clearpost Clinic"
    assert account.expires_at is not None and account.refresh_token

    renewed = await adapter.refresh(account)
    assert renewed.access_token != account.access_token
    assert renewed.refresh_token == account.refresh_token  # LinkedIn keeps the refresh token
    assert (await adapter.check_account(renewed)).status == ACCOUNT_OK
    with pytest.raises(CredentialsRejected):
        await adapter.refresh(replace(account, refresh_token="not-a-refresh-token"))


async def test_authorize_page_refuses_a_request_without_pkce(world: World) -> None:
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        answer = await browser.get(
            f"{world.url}/oauth/v2/authorization",
            params={
                "response_type": "code",
                "client_id": "li-client",
                "scope": " ".join(SCOPES),
                "redirect_uri": "https://clearpost.example/cb",
                "state": "s",
            },
        )
    assert answer.status_code == 400
