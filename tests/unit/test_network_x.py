"""The X adapter against the local X fake, over real loopback HTTP."""

from __future__ import annotations

import time
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
    RateLimited,
)
from services.publisher.networks.x import SCOPES, XAdapter
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.networks.x import FakeXState, create_app
from tests.fakes.serve import ServedApp

USER = "1500000000000000001"
TEXT = "Flu shots free this week & walk-ins <welcome>: https://clinic.org/flu?src=x 💉"


@dataclass
class World:
    url: str
    fake: FakeXState
    sleeps: list[float]

    def adapter(self, *, timeout: float = 5.0, refill: bool = False) -> XAdapter:
        async def record(seconds: float) -> None:
            # No real wait: record it and, if asked, let the fake's window pass.
            self.sleeps.append(seconds)
            if refill:
                self.fake.plan.remaining = None

        config = NetworkConfig(
            api_base_url=self.url,
            auth_base_url=self.url,
            client_id="x-client",
            client_secret="x-secret",
            timeout_seconds=timeout,
        )
        return XAdapter(config, sleep=record)

    def account(self, scopes: tuple[str, ...] = SCOPES) -> AccountCredentials:
        token = self.fake.grant(scopes)
        return AccountCredentials(
            network="x",
            name="clinic",
            base_url=self.url,
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=datetime.fromtimestamp(token.expires_at, tz=UTC),
            account_ref=USER,
            scopes=scopes,
            settings={"username": "clearpostclinic"},
        )


@pytest.fixture
def world() -> Iterator[World]:
    app = create_app()
    with ServedApp(app) as served:
        yield World(served.url, app.state.fake, [])


def request(text: str = TEXT, media: tuple[OutgoingMedia, ...] = ()) -> PostRequest:
    return PostRequest(publication_id="pub-1", idempotency_key="pub-1:x", text=text, media=media)


def png(n: int) -> OutgoingMedia:
    return OutgoingMedia(digest=f"sha256:{n}", media_type="image/png", data=b"\x89PNG" + bytes([n]) * 32)


async def test_post_text_shows_what_was_sent(world: World) -> None:
    posted = await world.adapter().post(world.account(), request(), MemoryCheckpoints())
    assert posted.url == f"https://x.com/clearpostclinic/status/{posted.external_id}"
    assert world.fake.tweets[posted.external_id].text == TEXT
    assert world.fake.shown(posted.external_id) == TEXT
    # What X answers has the link as t.co and the text HTML-escaped: not what was sent.
    assert "t.co/" in world.fake.tweets[posted.external_id].as_shown()["text"]


async def test_post_with_images(world: World) -> None:
    posted = await world.adapter().post(world.account(), request(media=(png(1), png(2))), MemoryCheckpoints())
    tweet = world.fake.tweets[posted.external_id]
    assert [world.fake.media[m][2] for m in tweet.media_ids] == [png(1).data, png(2).data]
    with pytest.raises(NetworkRejected):
        await world.adapter().post(
            world.account(), request("five", tuple(png(n) for n in range(5))), MemoryCheckpoints()
        )


async def test_accept_then_hang_is_ambiguous_and_the_retry_finds_the_one_post(world: World) -> None:
    account, checkpoints = world.account(), MemoryCheckpoints()
    since = datetime.now(UTC)
    world.fake.plan.hang_next("POST", "/2/tweets", 1.5)
    with pytest.raises(AmbiguousOutcome):
        await world.adapter(timeout=0.5).post(account, request(), checkpoints)
    assert len(world.fake.tweets) == 1

    found = await world.adapter().find(account, request(), checkpoints, since=since)
    assert found is not None and found.external_id in world.fake.tweets
    assert found.evidence["exact"] is True
    again = await world.adapter().post(account, request(), checkpoints)
    assert again.external_id == found.external_id
    assert len(world.fake.tweets) == 1


async def test_find_matches_a_bare_domain_link_with_links_normalised(world: World) -> None:
    text = "Details at clinic.org/flu today"
    posted = await world.adapter().post(world.account(), request(text), MemoryCheckpoints())
    found = await world.adapter().find(
        world.account(), request(text), MemoryCheckpoints(), since=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert found is not None and found.external_id == posted.external_id and found.evidence["exact"] is False
    other = await world.adapter().find(
        world.account(),
        request("Details elsewhere"),
        MemoryCheckpoints(),
        since=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert other is None


async def test_the_same_text_from_another_publication_is_refused_not_claimed(world: World) -> None:
    account = world.account()
    await world.adapter().post(account, request(), MemoryCheckpoints())
    other = PostRequest(publication_id="pub-2", idempotency_key="pub-2:x", text=TEXT)
    with pytest.raises(NetworkRejected, match="duplicate"):
        await world.adapter().post(account, other, MemoryCheckpoints())
    assert len(world.fake.tweets) == 1


async def test_5xx_on_create_is_ambiguous_and_the_retry_posts_once(world: World) -> None:
    account, checkpoints = world.account(), MemoryCheckpoints()
    world.fake.plan.fail_next("POST", "/2/tweets", 503)
    with pytest.raises(AmbiguousOutcome):
        await world.adapter().post(account, request(), checkpoints)
    assert world.fake.tweets == {}
    posted = await world.adapter().post(account, request(), checkpoints)
    assert list(world.fake.tweets) == [posted.external_id]


async def test_429_waits_for_the_reset_and_succeeds(world: World) -> None:
    reset = str(int(time.time()) + 2)
    world.fake.plan.fail_next(
        "POST",
        "/2/tweets",
        429,
        headers={"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset},
    )
    posted = await world.adapter().post(world.account(), request(), MemoryCheckpoints())
    assert list(world.fake.tweets) == [posted.external_id]
    assert len(world.sleeps) == 1 and 0 < world.sleeps[0] <= 3


async def test_a_spent_window_waits_before_the_next_request(world: World) -> None:
    world.fake.plan.remaining = 1  # users/me spends it; the create must wait for the reset
    world.fake.plan.reset_after_seconds = 2
    adapter = world.adapter(refill=True)
    account = world.account()
    assert (await adapter.check_account(account)).status == ACCOUNT_OK
    await adapter.post(account, request(), MemoryCheckpoints())
    assert len(world.sleeps) == 1 and 0 < world.sleeps[0] <= 3
    assert len(world.fake.tweets) == 1


async def test_rate_limit_far_away_raises_rate_limited(world: World) -> None:
    reset = str(int(time.time()) + 900)
    world.fake.plan.fail_next("POST", "/2/tweets", 429, headers={"x-rate-limit-reset": reset})
    with pytest.raises(RateLimited) as caught:
        await world.adapter().post(world.account(), request(), MemoryCheckpoints())
    assert caught.value.retry_at == float(reset) and world.fake.tweets == {}


async def test_expired_token(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    world.fake.tokens.expire(account.access_token or "")
    stale = replace(account, expires_at=datetime.now(UTC) - timedelta(seconds=5))
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(stale, request(), MemoryCheckpoints())
    assert caught.value.expired is True and (account.access_token or "") not in str(caught.value)
    assert (await adapter.check_account(replace(stale, refresh_token=None))).status == ACCOUNT_EXPIRED
    # With the refresh token, the check renews the grant, and the old refresh token is used up.
    check = await adapter.check_account(stale)
    assert check.status == ACCOUNT_OK and check.renewed is not None
    assert check.renewed.refresh_token != account.refresh_token
    assert (await adapter.check_account(stale)).status == ACCOUNT_EXPIRED


async def test_revoked_token(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    world.fake.tokens.revoke(account.access_token or "")
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(account, request(), MemoryCheckpoints())
    assert caught.value.expired is False
    assert (await adapter.check_account(account)).status == ACCOUNT_REVOKED


async def test_missing_scope(world: World) -> None:
    adapter = world.adapter()
    account = world.account(("tweet.read", "users.read", "offline.access", "media.write"))
    with pytest.raises(MissingScopes):
        await adapter.post(account, request(), MemoryCheckpoints())
    check = await adapter.check_account(account)
    assert check.status == ACCOUNT_MISSING_SCOPES and "tweet.write" in check.reason
    ok = await adapter.check_account(world.account())
    assert ok.status == ACCOUNT_OK and ok.display_name == "@clearpostclinic"


async def test_delete_and_delete_again(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    posted = await adapter.post(account, request(), MemoryCheckpoints())
    first = await adapter.delete(account, posted.external_id)
    assert first.status_code == 200 and not first.already_gone
    assert world.fake.deleted == [posted.external_id] and world.fake.tweets == {}
    second = await adapter.delete(account, posted.external_id)
    assert second.already_gone


async def test_replies(world: World) -> None:
    adapter, account = world.adapter(), world.account()
    posted = await adapter.post(account, request(), MemoryCheckpoints())
    reply_id = world.fake.reply(posted.external_id, "patient1", "Is it walk-in? see https://a.org/x")
    replies = await adapter.replies(account, posted.external_id)
    assert [(r.external_id, r.author, r.text, r.in_reply_to) for r in replies] == [
        (reply_id, "patient1", "Is it walk-in? see https://a.org/x", posted.external_id)
    ]
    assert replies[0].url == f"https://x.com/patient1/status/{reply_id}"


async def test_limits_count_as_x_counts(world: World) -> None:
    limits = world.adapter().limits(world.account())
    assert limits.max_length == 280 and limits.max_images == 4
    assert limits.measure("https://example.com/" + "a" * 100) == 23
    assert limits.measure("日本") == 4 and limits.measure("😀") == 2 and limits.measure("ab") == 2
    with pytest.raises(NetworkRejected):
        await world.adapter().post(world.account(), request("日" * 141), MemoryCheckpoints())
    assert world.fake.tweets == {}


async def test_oauth_authorize_token_refresh_and_account_from_grant(world: World) -> None:
    adapter = world.adapter()
    endpoints = adapter.oauth_endpoints()
    assert endpoints.token_auth == "client_secret_basic" and "offline.access" in endpoints.scopes
    redirect_uri = "https://clearpost.example/oauth/x/callback"
    async with AsyncOAuth2Client(
        client_id="x-client",
        client_secret="x-secret",
        scope=" ".join(endpoints.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=endpoints.token_auth,
    ) as client:
        verifier = "q" * 64
        url, state = client.create_authorization_url(endpoints.authorize_url, code_verifier=verifier)
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            answer = await browser.get(url)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(redirect_uri) and parse_qs(urlsplit(location).query)["state"] == [state]
        token = await client.fetch_token(
            endpoints.token_url, authorization_response=location, code_verifier=verifier
        )
    assert token["expires_in"] == 7200

    account = await adapter.account_from_grant("clinic", token, target=None)
    assert account.account_ref == USER and account.settings["username"] == "clearpostclinic"
    assert set(account.scopes) == set(SCOPES)
    renewed = await adapter.refresh(account)
    assert renewed.access_token != account.access_token and renewed.refresh_token != account.refresh_token
    with pytest.raises(CredentialsRejected):
        await adapter.refresh(account)  # rotated: the old refresh token is spent
    assert (await adapter.check_account(renewed)).status == ACCOUNT_OK


async def test_token_endpoint_refuses_a_wrong_verifier_and_a_wrong_secret(world: World) -> None:
    adapter = world.adapter()
    endpoints = adapter.oauth_endpoints()
    for secret, verifier in (("x-secret", "wrong" * 13), ("not-the-secret", "q" * 64)):
        async with AsyncOAuth2Client(
            client_id="x-client",
            client_secret=secret,
            scope=" ".join(SCOPES),
            redirect_uri="https://clearpost.example/cb",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        ) as client:
            url, _ = client.create_authorization_url(endpoints.authorize_url, code_verifier="q" * 64)
            async with httpx.AsyncClient(follow_redirects=False) as browser:
                location = (await browser.get(url)).headers["location"]
            with pytest.raises(Exception, match=r"invalid_grant|invalid_client"):
                await client.fetch_token(
                    endpoints.token_url, authorization_response=location, code_verifier=verifier
                )
