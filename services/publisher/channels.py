"""Where approved posts go. Each channel knows its own limits and whether it already has a post.

`already_posted` is what makes publishing safe to retry: the publisher asks the channel about a
publication id before posting it, so a crash between posting and recording never posts twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def max_length(self) -> int: ...

    async def already_posted(self, publication_id: str) -> str | None:
        """The external id if this publication is on the channel already, else None."""
        ...

    async def post(self, publication: OutgoingPost) -> str:
        """Post it and return the channel's id for it."""
        ...


class UnknownChannelError(ValueError):
    pass


class SandboxChannel:
    """A local stand-in for a social network: one JSON line per post in `<outbox>/sandbox.jsonl`.

    Every read and append holds a flock on the file, and `post` checks for the publication id
    under the same exclusive lock it appends with, so two workers racing on one publication
    still write one line.
    """

    name = "sandbox"
    max_length = 5000

    def __init__(self, outbox_dir: Path) -> None:
        self._path = outbox_dir / f"{self.name}.jsonl"

    @property
    def path(self) -> Path:
        return self._path

    @staticmethod
    def external_id_for(publication_id: str) -> str:
        return f"sandbox:{publication_id}"

    async def already_posted(self, publication_id: str) -> str | None:
        return await asyncio.to_thread(self._find, publication_id)

    async def post(self, publication: OutgoingPost) -> str:
        return await asyncio.to_thread(self._append_once, publication)

    def _find(self, publication_id: str) -> str | None:
        try:
            fh = self._path.open("rb")
        except FileNotFoundError:
            return None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            return self._scan(fh.read(), publication_id)

    def _append_once(self, publication: OutgoingPost) -> str:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        created = not self._path.exists()
        with self._path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            content = fh.read()
            existing = self._scan(content, publication.publication_id)
            if existing is not None:
                return existing
            media = [self._store_media(item) for item in publication.media]
            record = {
                "publication_id": publication.publication_id,
                "draft_id": publication.draft_id,
                "version": publication.version,
                "channel": publication.channel,
                "content_hash": publication.content_hash,
                "title": publication.title,
                "body": publication.body,
                "media": media,
                "published_at": datetime.now(UTC).isoformat(),
            }
            line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
            # A crash mid-append can leave a torn last line; start on a fresh one.
            if content and not content.endswith(b"\n"):
                line = b"\n" + line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            _fsync_dir(self._path.parent)
        return self.external_id_for(publication.publication_id)

    def _store_media(self, item: OutgoingMedia) -> dict[str, str]:
        """The image as the channel receives it: `<outbox>/media/<digest>` (content-addressed)."""
        folder = self._path.parent / "media"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / item.digest
        if not target.exists():
            partial = folder / f".{item.digest}.partial"
            partial.write_bytes(item.data)
            os.replace(partial, target)
        return {"digest": item.digest, "media_type": item.media_type, "path": f"media/{item.digest}"}

    def _scan(self, content: bytes, publication_id: str) -> str | None:
        for record in _records(content):
            if record.get("publication_id") == publication_id:
                return self.external_id_for(publication_id)
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


def build_channels(names: Iterable[str], *, outbox_dir: Path) -> dict[str, Channel]:
    """The configured channels by name; a name without an implementation stops startup."""
    factories = {SandboxChannel.name: lambda: SandboxChannel(outbox_dir)}
    channels: dict[str, Channel] = {}
    for name in names:
        if name not in factories:
            raise UnknownChannelError(
                f"channel {name!r} is configured but not implemented (known: {', '.join(sorted(factories))})"
            )
        channels[name] = factories[name]()
    return channels
