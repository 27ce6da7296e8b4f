"""The Mastodon adapter against a local fake instance (and mastodon-mock), over real loopback HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.publisher.channels import OutgoingMedia
from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    ACCOUNT_UNREACHABLE,
    AccountCredentials,
    AmbiguousOutcome,
    CredentialsRejected,
    MissingScopes,
    NetworkAdapter,
    NetworkConfig,
    PostRequest,
    RateLimited,
)
from services.publisher.networks.mastodon import (
    CHECKPOINT_STATUS_ID,
    MastodonAdapter,
    mastodon_length,
    plain_text,
)
from tests.fakes.checkpoints import MemoryCheckpoints
from tests.fakes.clock import ManualClock
from tests.fakes.networks.mastodon import FakeMastodon, FakeStatus, create_app
from tests.fakes.serve import ServedApp

TOKEN = "token-of-clinic"
STATUSES = "/api/v1/statuses"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeMastodon:
    app = create_app(max_characters=600, clock=clock.now)
    fake: FakeMastodon = app.state.fake
    fake.app = app
    fake.add_account("clinic", TOKEN)
    return fake


@pytest.fixture
def served(fake: FakeMastodon) -> Iterator[ServedApp]:
    with ServedApp(fake.app) as served:
        yield served


def adapter_for(base_url: str, clock: ManualClock, *, timeout: float = 5.0) -> MastodonAdapter:
    config = NetworkConfig(api_base_url=base_url, timeout_seconds=timeout, max_wait_seconds=60)
    return MastodonAdapter(config, sleep=clock.sleep, clock=clock.now)


@pytest.fixture
def adapter(served: ServedApp, clock: ManualClock) -> MastodonAdapter:
    return adapter_for(served.url, clock)


def account_for(base_url: str, token: str = TOKEN, **settings: str) -> AccountCredentials:
    return AccountCredentials(
        network="mastodon", name="Clinic", base_url=base_url, access_token=token, settings=settings
    )


@pytest.fixture
def account(served: ServedApp) -> AccountCredentials:
    return account_for(served.url)


FLU = "Flu shots are in. Book at https://clinic.example/flu"


def request_for(text: str = FLU, media: tuple[OutgoingMedia, ...] = ()) -> PostRequest:
    return PostRequest(publication_id="pub-1", idempotency_key="clearpost-pub-1", text=text, media=media)


def only_status(fake: FakeMastodon) -> FakeStatus:
    statuses = fake.live_statuses()
    assert len(statuses) == 1, statuses
    return statuses[0]


def test_is_a_network_adapter(adapter: MastodonAdapter) -> None:
    assert isinstance(adapter, NetworkAdapter)
    assert adapter.network == "mastodon"


async def test_check_account_keeps_the_account_id_and_the_instance_limit(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    check = await adapter.check_account(account)
    assert check.status == ACCOUNT_OK
    assert check.account_ref == next(iter(fake.accounts))
    assert check.settings["max_characters"] == "600"
    assert check.display_name == "Clinic"
    limits = adapter.limits(account_for(account.base_url, **check.settings))
    assert limits.max_length == 600


def test_limits_count_as_mastodon_counts(adapter: MastodonAdapter, account: AccountCredentials) -> None:
    assert adapter.limits(account).max_length == 500  # no instance limit stored yet
    link = "https://clinic.example/a/very/long/path/that/is/surely/longer/than/twenty-three"
    assert mastodon_length(link) == 23
    assert mastodon_length(f"See {link}.") == 4 + 23 + 1
    assert mastodon_length("hi @nurse@health.example") == len("hi @nurse")
    assert mastodon_length("hi @nurse") == len("hi @nurse")
    assert mastodon_length("👩‍⚕️ ok") == 4  # one grapheme for the health worker emoji
    assert adapter.limits(account).measure is mastodon_length


async def test_post_text_shows_what_was_sent_with_the_idempotency_key(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    checkpoints = MemoryCheckpoints()
    posted = await adapter.post(account, request_for(), checkpoints)
    status = only_status(fake)
    assert status.text == "Flu shots are in. Book at https://clinic.example/flu"
    assert status.idempotency_key == "clearpost-pub-1"
    assert posted.external_id == status.id
    assert posted.url == f"https://mastodon.example/@clinic/{status.id}"
    assert checkpoints.values[CHECKPOINT_STATUS_ID] == status.id
    sent = [headers for method, path, headers in fake.requests if method == "POST" and path == STATUSES]
    assert sent[0]["idempotency-key"] == "clearpost-pub-1"
    assert sent[0]["authorization"] == f"Bearer {TOKEN}"


async def test_post_with_images_waits_for_processing(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    fake.media_processing_polls = 2
    media = (
        OutgoingMedia(digest="a" * 64, media_type="image/png", data=PNG),
        OutgoingMedia(digest="b" * 64, media_type="image/png", data=PNG + b"2"),
    )
    posted = await adapter.post(account, request_for(media=media), MemoryCheckpoints())
    status = only_status(fake)
    assert len(status.media_ids) == 2
    assert all(fake.media[m]["url"] for m in status.media_ids)
    assert [fake.media[m]["meta"]["size_bytes"] for m in status.media_ids] == [len(PNG), len(PNG) + 1]
    assert posted.evidence["media_ids"] == status.media_ids
    assert 1.0 in clock.sleeps  # polled GET /api/v1/media/:id while it answered 206


async def test_accept_then_hang_is_deduplicated_by_the_idempotency_key(
    served: ServedApp, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    adapter = adapter_for(served.url, clock, timeout=0.3)
    fake.hang_next(STATUSES, 0.8)
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    assert posted.external_id == only_status(fake).id
    assert sum(1 for method, path, _ in fake.requests if method == "POST" and path == STATUSES) == 2


async def test_unanswered_create_is_ambiguous_and_the_retry_finds_it_after_the_key_expired(
    served: ServedApp, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    adapter = adapter_for(served.url, clock, timeout=0.3)
    checkpoints = MemoryCheckpoints()
    fake.hang_next(STATUSES, 0.6, times=4)
    with pytest.raises(AmbiguousOutcome) as caught:
        await adapter.post(account, request_for(), checkpoints)
    assert TOKEN not in str(caught.value)
    made = only_status(fake)
    fake.forget_idempotency_keys()  # more than an hour later
    clock.value += 7200
    posted = await adapter.post(account, request_for(), checkpoints)
    assert posted.external_id == made.id
    assert only_status(fake).id == made.id


async def test_find_matches_the_accounts_statuses_since_by_source_text(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    account_id = next(iter(fake.accounts))
    old = datetime.fromtimestamp(clock.now(), UTC) - timedelta(days=2)
    fake.statuses["1"] = FakeStatus(id="1", account_id=account_id, text=request_for().text, created_at=old)
    since = datetime.fromtimestamp(clock.now(), UTC)
    assert await adapter.find(account, request_for(), MemoryCheckpoints(), since=since) is None
    fake.statuses["2"] = FakeStatus(id="2", account_id=account_id, text="Other", created_at=since)
    fake.statuses["3"] = FakeStatus(id="3", account_id=account_id, text=request_for().text, created_at=since)
    found = await adapter.find(account, request_for(), MemoryCheckpoints(), since=since)
    assert found is not None and found.external_id == "3"


async def test_429_waits_for_the_iso_reset_and_succeeds(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    reset = datetime.fromtimestamp(clock.now() + 5, UTC).isoformat().replace("+00:00", "Z")
    fake.fail_next(STATUSES, 429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    await adapter.post(account, request_for(), MemoryCheckpoints())
    only_status(fake)
    assert clock.sleeps and clock.sleeps[0] == pytest.approx(5, abs=0.01)


async def test_a_reset_too_far_away_raises_rate_limited(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon, clock: ManualClock
) -> None:
    fake.set_rate_limit(0, reset_in=3600)
    with pytest.raises(RateLimited) as caught:
        await adapter.post(account, request_for(), MemoryCheckpoints())
    assert caught.value.retry_at == pytest.approx(clock.now() + 3600, abs=1)
    assert fake.live_statuses() == []


async def test_5xx_on_create_is_retried_with_the_same_key(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    fake.fail_next(STATUSES, 503)
    await adapter.post(account, request_for(), MemoryCheckpoints())
    only_status(fake)


async def test_5xx_on_every_try_is_ambiguous(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    fake.fail_next(STATUSES, 502, times=4)
    with pytest.raises(AmbiguousOutcome):
        await adapter.post(account, request_for(), MemoryCheckpoints())
    assert fake.live_statuses() == []


async def test_expired_token(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    fake.expire(TOKEN)
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(account, request_for(), MemoryCheckpoints())
    assert caught.value.expired is True
    assert TOKEN not in str(caught.value)
    assert (await adapter.check_account(account)).status == ACCOUNT_EXPIRED


async def test_revoked_token(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    fake.revoke(TOKEN)
    with pytest.raises(CredentialsRejected) as caught:
        await adapter.post(account, request_for(), MemoryCheckpoints())
    assert caught.value.expired is False
    assert (await adapter.check_account(account)).status == ACCOUNT_REVOKED


async def test_missing_write_scope(adapter: MastodonAdapter, served: ServedApp, fake: FakeMastodon) -> None:
    fake.add_account("readonly", "read-token", scopes=("read",))
    account = account_for(served.url, "read-token")
    with pytest.raises(MissingScopes):
        await adapter.post(account, request_for(), MemoryCheckpoints())
    check = await adapter.check_account(account)
    assert check.status == ACCOUNT_MISSING_SCOPES
    assert fake.live_statuses() == []


async def test_unreachable_instance(clock: ManualClock, account: AccountCredentials) -> None:
    adapter = adapter_for("http://127.0.0.1:9", clock)
    check = await adapter.check_account(account_for("http://127.0.0.1:9"))
    assert check.status == ACCOUNT_UNREACHABLE


async def test_delete_and_delete_again(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    first = await adapter.delete(account, posted.external_id)
    assert (first.status_code, first.already_gone) == (200, False)
    assert fake.deleted == [posted.external_id] and fake.live_statuses() == []
    again = await adapter.delete(account, posted.external_id)
    assert (again.status_code, again.already_gone) == (404, True)
    assert again.answer == "Record not found"


async def test_replies_are_the_descendants(
    adapter: MastodonAdapter, account: AccountCredentials, fake: FakeMastodon
) -> None:
    posted = await adapter.post(account, request_for(), MemoryCheckpoints())
    patient = fake.add_account("patient", "patient-token")
    now = datetime.now(UTC)
    fake.statuses["900"] = FakeStatus(
        id="900",
        account_id=patient,
        text="Thanks & see you",
        created_at=now,
        in_reply_to_id=posted.external_id,
    )
    fake.statuses["901"] = FakeStatus(
        id="901", account_id=patient, text="a\nb", created_at=now, in_reply_to_id="900"
    )
    replies = await adapter.replies(account, posted.external_id)
    assert [(r.external_id, r.author, r.text, r.in_reply_to) for r in replies] == [
        ("900", "patient", "Thanks & see you", posted.external_id),
        ("901", "patient", "a\nb", "900"),
    ]


def test_plain_text_of_rendered_content() -> None:
    assert plain_text("<p>One &amp; two</p><p>Three<br />four</p>") == "One & two\n\nThree\nfour"


# --- against mastodon-mock (someone else's Mastodon server) -------------------------------------


@pytest.fixture(scope="module")
def mock_server() -> Iterator[ServedApp]:
    from mastodon_mock.app import create_app as create_mock_app
    from mastodon_mock.config import DatabaseConfig, MastodonMockConfig
    from mastodon_mock.testing import DEFAULT_TEST_SEED

    config = MastodonMockConfig(database=DatabaseConfig(path=":memory:"), seed=DEFAULT_TEST_SEED)
    # mastodon-mock runs its Alembic migrations through logging.config.fileConfig, which disables
    # every logger that exists at that moment: put them back as they were for the tests after this.
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in list(logging.root.manager.loggerDict))]
    enabled = [logger for logger in loggers if not logger.disabled]
    with ServedApp(create_mock_app(config)) as served:
        yield served
    for logger in enabled:
        logger.disabled = False


@pytest.fixture
def mock_account(mock_server: ServedApp) -> AccountCredentials:
    # mastodon-mock seeds alice/bob/carol with the access tokens `<name>_token`.
    return account_for(mock_server.url, "alice_token")


async def test_mock_check_account(mock_server: ServedApp, mock_account: AccountCredentials) -> None:
    check = await adapter_for(mock_server.url, ManualClock()).check_account(mock_account)
    assert check.status == ACCOUNT_OK
    assert check.account_ref and check.settings["max_characters"].isdigit()
    assert check.settings["username"] == "alice"


async def test_mock_post_find_replies_delete(
    mock_server: ServedApp, mock_account: AccountCredentials
) -> None:
    adapter = adapter_for(mock_server.url, ManualClock())
    text = f"Clinic hours changed {datetime.now(UTC).isoformat()}"
    request = PostRequest(publication_id="m1", idempotency_key=f"clearpost-{text}", text=text)
    checkpoints = MemoryCheckpoints()
    posted = await adapter.post(mock_account, request, checkpoints)
    # The same key again: mastodon-mock honours Idempotency-Key as Mastodon does.
    again = await adapter.post(mock_account, request, MemoryCheckpoints())
    assert again.external_id == posted.external_id
    found = await adapter.find(
        mock_account, request, MemoryCheckpoints(), since=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert found is not None and found.external_id == posted.external_id
    async with httpx.AsyncClient(base_url=mock_server.url) as client:
        reply = await client.post(
            STATUSES,
            headers={"Authorization": "Bearer bob_token"},
            json={"status": "@alice thank you", "in_reply_to_id": posted.external_id},
        )
        assert reply.status_code == 200, reply.text
    replies = await adapter.replies(mock_account, posted.external_id)
    assert [(r.author, r.in_reply_to) for r in replies] == [("bob", posted.external_id)]
    assert "thank you" in replies[0].text
    deleted = await adapter.delete(mock_account, posted.external_id)
    assert deleted.already_gone is False
    assert (await adapter.delete(mock_account, posted.external_id)).already_gone is True


async def test_mock_post_with_an_image(mock_server: ServedApp, mock_account: AccountCredentials) -> None:
    adapter = adapter_for(mock_server.url, ManualClock())
    media = (OutgoingMedia(digest="c" * 64, media_type="image/png", data=PNG),)
    request = PostRequest(
        publication_id="m2", idempotency_key="clearpost-m2", text="With a picture", media=media
    )
    posted = await adapter.post(mock_account, request, MemoryCheckpoints())
    async with httpx.AsyncClient(base_url=mock_server.url) as client:
        shown = (await client.get(f"{STATUSES}/{posted.external_id}")).json()
    assert [m["type"] for m in shown["media_attachments"]] == ["image"]
    assert plain_text(shown["content"]) == "With a picture"
