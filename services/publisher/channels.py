"""Where approved posts go. Each channel knows its own limits and whether it already has a post.

`already_posted` is what makes publishing safe to retry: the publisher asks the channel about a
publication id before posting it, so a crash between posting and recording never posts twice.

Two kinds: `sandbox` (a local file standing in for a social network) and `webhook` (an HTTP POST of
the approved post, signed with HMAC-SHA256, to a URL the deployment configures).
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import hmac
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from services.kit.clock import utcnow
from services.kit.files import replace_atomically


@dataclass(frozen=True)
class OutgoingMedia:
    """One sanitized image of the version (fetched from the drafts service, digest checked)."""

    digest: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingPost:
    """One approved version, as handed to a channel."""

    publication_id: str
    draft_id: str
    version: int
    channel: str
    content_hash: str
    title: str
    body: str
    media: tuple[OutgoingMedia, ...] = ()

    def described(self) -> dict[str, object]:
        """Everything but the images' bytes, as a channel records or sends it."""
        return {
            "publication_id": self.publication_id,
            "draft_id": self.draft_id,
            "version": self.version,
            "channel": self.channel,
            "content_hash": self.content_hash,
            "title": self.title,
            "body": self.body,
        }


@runtime_checkable
class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def max_length(self) -> int: ...

    def measure(self, text: str) -> int:
        """The text's length as the channel counts it against `max_length`."""
        ...

    async def already_posted(self, publication_id: str) -> str | None:
        """The external id if this publication is on the channel already, else None."""
        ...

    async def post(self, publication: OutgoingPost) -> str:
        """Post it and return the channel's id for it."""
        ...

    async def url_of(self, publication_id: str) -> str | None:
        """Where the public sees the post, if the channel has a public address for it."""
        ...

    async def remove(self, publication_id: str, external_id: str) -> dict[str, object]:
        """Take the post down; the channel's answer as evidence. Safe to repeat."""
        ...


class UnknownChannelError(ValueError):
    pass


class ChannelConfigError(ValueError):
    """A configured channel's settings are missing or unusable; the message says which and why."""


class ChannelError(Exception):
    """A channel did not take a post."""


class ChannelRejected(ChannelError):
    """The channel refused the post for good: sending the same post again cannot help."""


class ChannelUnavailable(ChannelError):
    """The channel did not answer, or failed for now: a later attempt may succeed."""


class SandboxChannel:
    """A local stand-in for a social network: one JSON line per post in `<outbox>/sandbox.jsonl`
    (a Ledger, so a publication is posted once however many workers race on it), its images in
    `<outbox>/media/`."""

    name = "sandbox"
    max_length = 5000

    def __init__(self, outbox_dir: Path, name: str = "sandbox") -> None:
        self.name = name
        self._ledger = Ledger(outbox_dir / f"{name}.jsonl")
        self._removed = Ledger(outbox_dir / f"{name}-removed.jsonl")

    def measure(self, text: str) -> int:
        return len(text)

    async def url_of(self, publication_id: str) -> str | None:
        return None

    async def remove(self, publication_id: str, external_id: str) -> dict[str, object]:
        """Removal is a line in `<outbox>/<name>-removed.jsonl` (once per publication)."""

        def record() -> dict[str, object]:
            return {
                "publication_id": publication_id,
                "external_id": external_id,
                "removed_at": utcnow().isoformat(),
            }

        line = await asyncio.to_thread(self._removed.append_once, publication_id, record)
        return {"channel": self.name, "answer": "removed from the sandbox outbox", **line}

    async def is_removed(self, publication_id: str) -> bool:
        return await asyncio.to_thread(self._removed.find, publication_id) is not None

    @property
    def path(self) -> Path:
        return self._ledger.path

    @staticmethod
    def external_id_for(publication_id: str) -> str:
        return f"sandbox:{publication_id}"

    async def already_posted(self, publication_id: str) -> str | None:
        found = await asyncio.to_thread(self._ledger.find, publication_id)
        return None if found is None else self.external_id_for(publication_id)

    async def post(self, publication: OutgoingPost) -> str:
        def record() -> dict[str, object]:
            return {
                **publication.described(),
                "media": [self._store_media(item) for item in publication.media],
                "published_at": utcnow().isoformat(),
            }

        await asyncio.to_thread(self._ledger.append_once, publication.publication_id, record)
        return self.external_id_for(publication.publication_id)

    def _store_media(self, item: OutgoingMedia) -> dict[str, str]:
        """The image as the channel receives it: `<outbox>/media/<digest>` (content-addressed)."""
        folder = self._ledger.path.parent / "media"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / item.digest
        if not target.exists():
            replace_atomically(target, item.data)
        return {"digest": item.digest, "media_type": item.media_type, "path": f"media/{item.digest}"}


class Ledger:
    """What a channel has posted: one JSON line per publication in a local file.

    Every read and append holds a flock on the file, and `append_once` looks for the publication
    id under the same exclusive lock it appends with, so two workers racing on one publication
    still write one line. Appends are fsynced; a torn last line (a crash mid-append) is skipped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def find(self, publication_id: str) -> dict[str, object] | None:
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            return _find(fh.read(), publication_id)

    def append_once(self, publication_id: str, record: Callable[[], dict[str, object]]) -> dict[str, object]:
        """The publication's line: the one already there, else `record()` appended."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            content = fh.read()
            existing = _find(content, publication_id)
            if existing is not None:
                return existing
            new = record()
            line = json.dumps(new, ensure_ascii=False).encode() + b"\n"
            if content and not content.endswith(b"\n"):
                line = b"\n" + line  # start after a torn line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(self.path.parent)
        return new


def _find(content: bytes, publication_id: str) -> dict[str, object] | None:
    for record in _records(content):
        if record.get("publication_id") == publication_id:
            return record
    return None


def _records(content: bytes) -> Iterator[dict[str, object]]:
    for line in content.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn line from a crash mid-append holds no complete post
        if isinstance(record, dict):
            yield record


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- webhook -------------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Clearpost-Signature"
TIMESTAMP_HEADER = "X-Clearpost-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MIN_SECRET_BYTES = 32
MAX_EXTERNAL_ID = 150
# Answers that mean "not now": the same post may be sent again later.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: bytes = field(repr=False)
    timeout_seconds: float = 10.0
    max_length: int = 5000


def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`: what the receiver recomputes."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(url: str) -> str:
    """The URL with nothing secret in it, for messages; refuses URLs that would leak or mislead."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ChannelConfigError(f"the webhook URL is not a valid URL: {exc}") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ChannelConfigError("the webhook URL must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ChannelConfigError("the webhook URL must not carry credentials; the HMAC secret authenticates")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ChannelConfigError(f"the webhook URL must use https (plain http only to loopback, not {host})")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}{parts.path or '/'}"


class WebhookChannel:
    """POSTs each approved post as JSON to one URL, signed so the receiver can tell it came from us.

    Headers: `X-Clearpost-Timestamp` (Unix seconds), `X-Clearpost-Signature` (`sha256=` HMAC of
    `<timestamp>.<body>` with the shared secret) and `Idempotency-Key` (the publication id). A 2xx
    or 409 answer means the receiver has the post; its JSON `id`, if any, becomes the external id.
    Deliveries are recorded in `<outbox>/webhook.jsonl`, which `already_posted` reads; a crash
    between the receiver's answer and that record sends the post again under the same
    Idempotency-Key, so receivers must treat a repeated key as the same post.
    """

    name = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        outbox_dir: Path,
        *,
        name: str = "webhook",
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._where = _checked_url(config.url)
        if len(config.secret) < MIN_SECRET_BYTES:
            raise ChannelConfigError(f"the webhook secret must be at least {MIN_SECRET_BYTES} bytes")
        if config.timeout_seconds <= 0:
            raise ChannelConfigError("the webhook timeout must be positive")
        self._config = config
        self.name = name
        self._ledger = Ledger(outbox_dir / f"{name}.jsonl")
        self._transport = transport
        self._clock = clock

    @property
    def max_length(self) -> int:
        return self._config.max_length

    @property
    def path(self) -> Path:
        return self._ledger.path

    async def already_posted(self, publication_id: str) -> str | None:
        found = await asyncio.to_thread(self._ledger.find, publication_id)
        external_id = None if found is None else found.get("external_id")
        return external_id if isinstance(external_id, str) else None

    async def post(self, publication: OutgoingPost) -> str:
        existing = await self.already_posted(publication.publication_id)
        if existing is not None:
            return existing
        response = await self._send(self._payload(publication), publication.publication_id)
        external_id = self._accepted(response, publication.publication_id)
        record = {
            "publication_id": publication.publication_id,
            "draft_id": publication.draft_id,
            "version": publication.version,
            "content_hash": publication.content_hash,
            "external_id": external_id,
            "delivered_at": utcnow().isoformat(),
        }
        await asyncio.to_thread(self._ledger.append_once, publication.publication_id, lambda: record)
        return external_id

    def measure(self, text: str) -> int:
        return len(text)

    async def url_of(self, publication_id: str) -> str | None:
        return None

    async def remove(self, publication_id: str, external_id: str) -> dict[str, object]:
        """A signed `{"event": "takedown"}` POST to the same URL, Idempotency-Key `takedown:<id>`;
        a 2xx, 404 or 410 answer means the receiver no longer shows the post."""
        event = {"event": "takedown", "publication_id": publication_id, "external_id": external_id}
        response = await self._send(event, f"takedown:{publication_id}")
        if not (200 <= response.status_code < 300 or response.status_code in (404, 409, 410)):
            self._accepted(response, publication_id)  # raises with the receiver's answer
        return {
            "channel": self.name,
            "status_code": response.status_code,
            "answer": response.text[:200],
            "removed_at": utcnow().isoformat(),
        }

    async def _send(self, document: dict[str, Any], idempotency_key: str) -> httpx.Response:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: webhook_signature(self._config.secret, timestamp, body),
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        seconds = self._config.timeout_seconds
        try:
            # No proxies from the environment and no redirects: the post goes to the configured URL only.
            async with httpx.AsyncClient(
                timeout=seconds, follow_redirects=False, trust_env=False, transport=self._transport
            ) as client:
                return await client.post(self._config.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise ChannelUnavailable(
                f"the webhook at {self._where} did not answer within {seconds:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(
                f"the webhook at {self._where} could not be reached ({type(exc).__name__}: {exc})"
            ) from exc

    def _payload(self, publication: OutgoingPost) -> dict[str, Any]:
        return {
            **publication.described(),
            "media": [
                {
                    "digest": item.digest,
                    "media_type": item.media_type,
                    "size": len(item.data),
                    "data_base64": base64.b64encode(item.data).decode("ascii"),
                }
                for item in publication.media
            ],
        }

    def _accepted(self, response: httpx.Response, publication_id: str) -> str:
        status = response.status_code
        if 200 <= status < 300 or status == 409:  # 409: the receiver already has this publication
            return f"{self.name}:{self._receiver_id(response) or publication_id}"
        snippet = response.text[:200].strip()
        answer = f"HTTP {status}" + (f": {snippet}" if snippet else "")
        if status in TRANSIENT_STATUSES:
            raise ChannelUnavailable(f"the webhook at {self._where} answered {answer}")
        if 300 <= status < 400:
            raise ChannelRejected(
                f"the webhook at {self._where} answered {answer}; redirects are not followed"
            )
        raise ChannelRejected(f"the webhook at {self._where} refused the post: {answer}")

    @staticmethod
    def _receiver_id(response: httpx.Response) -> str | None:
        try:
            answer = response.json()
        except ValueError:
            return None
        value = answer.get("id") if isinstance(answer, dict) else None
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value)
            if 0 < len(text) <= MAX_EXTERNAL_ID and text.isprintable():
                return text
        return None


def build_channels(
    names: Iterable[str], *, outbox_dir: Path, webhook: WebhookConfig | None = None
) -> dict[str, Channel]:
    """The configured channels by name; a name without an implementation, or a webhook without its
    settings, stops startup."""

    def webhook_channel() -> Channel:
        if webhook is None:
            raise ChannelConfigError(
                "channel 'webhook' is configured but CLEARPOST_PUBLISHER_WEBHOOK_URL is not set"
            )
        return WebhookChannel(webhook, outbox_dir)

    factories: dict[str, Callable[[], Channel]] = {
        SandboxChannel.name: lambda: SandboxChannel(outbox_dir),
        WebhookChannel.name: webhook_channel,
    }
    channels: dict[str, Channel] = {}
    for name in names:
        if name not in factories:
            raise UnknownChannelError(
                f"channel {name!r} is configured but not implemented (known: {', '.join(sorted(factories))})"
            )
        channels[name] = factories[name]()
    return channels
