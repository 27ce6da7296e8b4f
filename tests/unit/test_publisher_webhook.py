"""The webhook channel against a loopback receiver: signed posts, idempotency, timeouts, clear errors."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.kit.db import create_engine, create_sessionmaker
from services.publisher.activities import PublisherActivities
from services.publisher.channels import (
    ChannelConfigError,
    ChannelRejected,
    ChannelUnavailable,
    OutgoingMedia,
    OutgoingPost,
    SandboxChannel,
    WebhookChannel,
    WebhookConfig,
    build_channels,
    webhook_signature,
)
from services.publisher.config import PublisherSettings
from services.publisher.main import app
from tests.database import DatabaseFactory
from tests.unit.publisher_fixtures import (
    FakeDrafts,
    approval_gate,
    configure,
    draft_version,
    outbox_lines,
    signed_request,
)
from tests.webhook import WebhookReceiver

SECRET = b"s" * 40
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
IMAGE_DIGEST = hashlib.sha256(IMAGE).hexdigest()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


def channel(receiver: WebhookReceiver, tmp_path: Path, **config: object) -> WebhookChannel:
    settings: dict[str, object] = {"url": receiver.endpoint, "secret": SECRET, **config}
    return WebhookChannel(WebhookConfig(**settings), tmp_path / "outbox")  # type: ignore[arg-type]


def outgoing(publication_id: str = "p-1", *, media: tuple[OutgoingMedia, ...] = ()) -> OutgoingPost:
    return OutgoingPost(
        publication_id=publication_id,
        draft_id="d-1",
        version=2,
        channel="webhook",
        content_hash="a" * 64,
        title="Flu shots",
        body="Walk-ins 9-12 ünïcode",
        media=media,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- delivery -----------------------------------------------------------------------------------


async def test_a_post_arrives_signed_with_its_content_and_images(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    webhook = channel(receiver, tmp_path)
    image = OutgoingMedia(IMAGE_DIGEST, "image/png", IMAGE)

    external_id = await webhook.post(outgoing(media=(image,)))

    assert external_id == "webhook:rcv-1"
    [post] = receiver.posts()
    assert post.signature_ok
    timestamp = post.headers["x-clearpost-timestamp"]
    assert post.headers["x-clearpost-signature"] == webhook_signature(SECRET, timestamp, post.body)
    assert post.headers["idempotency-key"] == "p-1"
    assert post.headers["content-type"] == "application/json"
    sent = post.json
    assert (sent["publication_id"], sent["draft_id"], sent["version"], sent["content_hash"]) == (
        "p-1",
        "d-1",
        2,
        "a" * 64,
    )
    assert (sent["title"], sent["body"]) == ("Flu shots", "Walk-ins 9-12 ünïcode")
    [item] = sent["media"]
    assert (item["digest"], item["media_type"], item["size"]) == (IMAGE_DIGEST, "image/png", len(IMAGE))
    assert base64.b64decode(item["data_base64"]) == IMAGE


async def test_a_delivered_post_is_never_sent_twice(receiver: WebhookReceiver, tmp_path: Path) -> None:
    webhook = channel(receiver, tmp_path)
    assert await webhook.already_posted("p-1") is None

    first = await webhook.post(outgoing("p-1"))
    again = await webhook.post(outgoing("p-1"))
    # Another worker process: its own channel object, the same outbox.
    other_worker = await channel(receiver, tmp_path).already_posted("p-1")

    assert first == again == other_worker == "webhook:rcv-1"
    assert len(receiver.requests) == 1
    assert [line["publication_id"] for line in outbox_lines(webhook.path)] == ["p-1"]


async def test_a_post_the_receiver_already_has_counts_as_delivered(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    await channel(receiver, tmp_path / "a").post(outgoing("p-1"))
    # A crash after the receiver answered, before the local record: the retry's outbox is empty.
    retried = channel(receiver, tmp_path / "b")

    external_id = await retried.post(outgoing("p-1"))

    assert external_id == "webhook:rcv-1"
    assert len(receiver.posts()) == 1 and len(receiver.requests) == 2
    assert await retried.already_posted("p-1") == "webhook:rcv-1"


async def test_an_answer_without_an_id_uses_the_publication_id(
    receiver: WebhookReceiver, tmp_path: Path
) -> None:
    receiver.answer_next(200, b"ok")

    assert await channel(receiver, tmp_path).post(outgoing("p-7")) == "webhook:p-7"


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
async def test_a_refusal_is_a_clear_permanent_error_and_nothing_is_recorded(
    receiver: WebhookReceiver, tmp_path: Path, status: int
) -> None:
    receiver.answer_next(status, b'{"error": "no thanks"}')
    webhook = channel(receiver, tmp_path)

    with pytest.raises(ChannelRejected) as refused:
        await webhook.post(outgoing())

    assert f"refused the post: HTTP {status}" in str(refused.value) and "no thanks" in str(refused.value)
    assert receiver.endpoint in str(refused.value)
    assert await webhook.already_posted("p-1") is None


async def test_a_wrong_secret_is_refused_by_the_receiver(receiver: WebhookReceiver, tmp_path: Path) -> None:
    webhook = channel(receiver, tmp_path, secret=b"w" * 40)

    with pytest.raises(ChannelRejected, match="HTTP 401"):
        await webhook.post(outgoing())

    assert receiver.posts() == [] and not receiver.requests[0].signature_ok


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_a_busy_or_failing_receiver_is_a_transient_error_and_the_retry_delivers(
    receiver: WebhookReceiver, tmp_path: Path, status: int
) -> None:
    receiver.answer_next(status)
    webhook = channel(receiver, tmp_path)

    with pytest.raises(ChannelUnavailable, match=f"answered HTTP {status}"):
        await webhook.post(outgoing())
    delivered = await webhook.post(outgoing())

    assert delivered == "webhook:rcv-1" and len(receiver.posts()) == 1


async def test_a_redirect_is_not_followed(receiver: WebhookReceiver, tmp_path: Path) -> None:
    receiver.answer_next(302)

    with pytest.raises(ChannelRejected, match="redirects are not followed"):
        await channel(receiver, tmp_path).post(outgoing())


async def test_a_receiver_that_does_not_answer_times_out(receiver: WebhookReceiver, tmp_path: Path) -> None:
    receiver.hold()

    with pytest.raises(ChannelUnavailable, match=r"did not answer within 0\.2 s"):
        await channel(receiver, tmp_path, timeout_seconds=0.2).post(outgoing())


async def test_a_receiver_that_is_down_is_a_transient_error(tmp_path: Path) -> None:
    webhook = WebhookChannel(WebhookConfig(f"http://127.0.0.1:{closed_port()}/hook", SECRET), tmp_path)

    with pytest.raises(ChannelUnavailable, match="could not be reached"):
        await webhook.post(outgoing())


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.org/hook", "must use https"),
        ("ftp://127.0.0.1/hook", "http:// or https://"),
        ("/relative/hook", "http:// or https://"),
        ("https://user:pw@example.org/hook", "must not carry credentials"),
        ("http://127.0.0.1:99999/hook", "not a valid URL"),
    ],
)
def test_an_unusable_url_stops_startup(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(ChannelConfigError, match=problem):
        WebhookChannel(WebhookConfig(url, SECRET), tmp_path)


def test_https_and_loopback_urls_are_accepted_and_short_secrets_are_not(tmp_path: Path) -> None:
    for url in ("https://hooks.example.org/clearpost", "http://localhost:9000/h", "http://[::1]:9000/h"):
        assert WebhookChannel(WebhookConfig(url, SECRET), tmp_path).max_length == 5000
    with pytest.raises(ChannelConfigError, match="at least 32 bytes"):
        WebhookChannel(WebhookConfig("https://hooks.example.org/", b"short"), tmp_path)
    assert SECRET.decode() not in repr(WebhookConfig("https://hooks.example.org/", SECRET))


def test_settings_read_the_secret_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text("x" * 40 + "\n")
    settings = PublisherSettings(
        var_dir=tmp_path,
        publisher_channels=["sandbox", "webhook"],
        publisher_webhook_url="http://127.0.0.1:9/hook",
        publisher_webhook_secret_file=secret_file,
        publisher_webhook_timeout_seconds=3,
    )

    config = settings.webhook_config()

    assert config == WebhookConfig("http://127.0.0.1:9/hook", b"x" * 40, 3.0, 5000)
    channels = build_channels(settings.publisher_channels, outbox_dir=tmp_path, webhook=config)
    assert list(channels) == ["sandbox", "webhook"] and isinstance(channels["webhook"], WebhookChannel)
    assert PublisherSettings(var_dir=tmp_path).webhook_config() is None  # not configured, not needed


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "CLEARPOST_PUBLISHER_WEBHOOK_URL is not set"),
        ({"publisher_webhook_url": "http://127.0.0.1:9/h"}, "needs a secret"),
        (
            {"publisher_webhook_url": "http://127.0.0.1:9/h", "publisher_webhook_secret_file": "missing"},
            "cannot be read",
        ),
        (
            {
                "publisher_webhook_url": "http://127.0.0.1:9/h",
                "publisher_webhook_secret_file": "given",
                "publisher_webhook_secret": SecretStr("y" * 40),
            },
            "not both",
        ),
        (
            {"publisher_webhook_url": "http://127.0.0.1:9/h", "publisher_webhook_secret_file": "empty"},
            "empty",
        ),
    ],
)
def test_missing_webhook_settings_are_named(
    tmp_path: Path, settings: dict[str, object], problem: str
) -> None:
    (tmp_path / "given").write_text("z" * 40)
    (tmp_path / "empty").write_text("\n")
    if "publisher_webhook_secret_file" in settings:
        settings["publisher_webhook_secret_file"] = tmp_path / str(settings["publisher_webhook_secret_file"])

    with pytest.raises(ChannelConfigError, match=problem):
        PublisherSettings(var_dir=tmp_path, publisher_channels=["webhook"], **settings).webhook_config()  # type: ignore[arg-type]
    with pytest.raises(ChannelConfigError, match="CLEARPOST_PUBLISHER_WEBHOOK_URL"):
        build_channels(["webhook"], outbox_dir=tmp_path)


async def test_the_publisher_lists_the_webhook_channel_where_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory, receiver: WebhookReceiver
) -> None:
    configure(monkeypatch, tmp_path, database("publisher"))
    (tmp_path / "secret").write_bytes(SECRET)
    monkeypatch.setenv("CLEARPOST_PUBLISHER_CHANNELS", '["sandbox", "webhook"]')
    monkeypatch.setenv("CLEARPOST_PUBLISHER_WEBHOOK_URL", receiver.endpoint)
    monkeypatch.setenv("CLEARPOST_PUBLISHER_WEBHOOK_SECRET_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("CLEARPOST_PUBLISHER_WEBHOOK_MAX_LENGTH", "280")

    async with app.router.lifespan_context(app):
        assert sorted(app.state.directory.configured) == ["sandbox", "webhook"]
        assert app.state.directory.configured["webhook"].max_length == 280

    monkeypatch.delenv("CLEARPOST_PUBLISHER_WEBHOOK_URL")
    with pytest.raises(ChannelConfigError, match="CLEARPOST_PUBLISHER_WEBHOOK_URL"):
        async with app.router.lifespan_context(app):
            pass


# --- the publish activity -----------------------------------------------------------------------


async def test_publishing_to_sandbox_and_webhook(
    tmp_path: Path, database: DatabaseFactory, receiver: WebhookReceiver
) -> None:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    content = draft_version(channels=("sandbox", "webhook"), media_digests=(IMAGE_DIGEST,))
    drafts = FakeDrafts(content)
    drafts.media[IMAGE_DIGEST] = (IMAGE, "image/png")
    sandbox, webhook = SandboxChannel(tmp_path), channel(receiver, tmp_path)
    activities = PublisherActivities(
        create_sessionmaker(engine),
        drafts,
        {"sandbox": sandbox, "webhook": webhook},
        approvals=approval_gate(),
    )
    request = signed_request("d-1", 1, content.content_hash, ["sandbox", "webhook"])
    try:
        receiver.answer_next(503)
        with pytest.raises(ApplicationError) as busy:
            await ActivityEnvironment().run(activities.publish_post, request)
        result = await ActivityEnvironment().run(activities.publish_post, request)  # Temporal's retry
    finally:
        await engine.dispose()

    assert busy.value.type == "ChannelUnavailable" and not busy.value.non_retryable
    assert "webhook: the webhook at" in str(busy.value)
    assert [(p.channel, p.status) for p in result.publications] == [
        ("sandbox", "published"),
        ("webhook", "published"),
    ]
    assert len(outbox_lines(sandbox.path)) == 1  # the retry did not post to the sandbox again
    [post] = receiver.posts()
    assert post.signature_ok and post.json["content_hash"] == content.content_hash
    assert post.json["publication_id"] == result.publications[1].publication_id
    assert [m["digest"] for m in post.json["media"]] == [IMAGE_DIGEST]


def failures_counted() -> float:
    """clearpost_publish_failures_total{channel="webhook", kind="rejected"}, as /metrics shows it."""
    labels = {"channel": "webhook", "kind": "rejected"}
    return REGISTRY.get_sample_value("clearpost_publish_failures_total", labels) or 0.0


async def test_a_refused_webhook_post_fails_the_publish_for_good(
    tmp_path: Path, database: DatabaseFactory, receiver: WebhookReceiver
) -> None:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    content = draft_version(channels=("webhook",))
    activities = PublisherActivities(
        create_sessionmaker(engine),
        FakeDrafts(content),
        {"webhook": channel(receiver, tmp_path)},
        approvals=approval_gate(),
    )
    receiver.answer_next(422, b'{"error": "title too long"}')
    before = failures_counted()
    try:
        with pytest.raises(ApplicationError) as refused:
            await ActivityEnvironment().run(
                activities.publish_post, signed_request("d-1", 1, content.content_hash, ["webhook"])
            )
    finally:
        await engine.dispose()

    assert refused.value.type == "ChannelRejected" and refused.value.non_retryable
    assert "HTTP 422" in str(refused.value) and "title too long" in str(refused.value)
    assert failures_counted() == before + 1


def test_the_receiver_fixture_checks_signatures(receiver: WebhookReceiver) -> None:
    """The loopback receiver itself: an unsigned post is refused, so a passing test means signed."""
    refused = httpx.post(receiver.endpoint, content=b"{}", headers={"Idempotency-Key": "k"})

    assert refused.status_code == 401 and receiver.posts() == []
