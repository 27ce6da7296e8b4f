"""Helpers the publisher tests share: a fake drafts service and the sandbox outbox reader.

The database comes from the `database("publisher")` fixture (tests/database.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.kit.canonical import content_hash
from services.kit.errors import NotFound
from services.publisher.schemas import VersionContent


def draft_version(
    draft_id: str = "d-1",
    version: int = 1,
    *,
    title: str = "Flu shots this Saturday",
    body: str = "Walk-in flu vaccinations 9-12 at the Main St clinic.",
    channels: tuple[str, ...] = ("sandbox",),
) -> VersionContent:
    return VersionContent(
        draft_id=draft_id,
        version=version,
        title=title,
        body=body,
        channels=list(channels),
        media_digests=[],
        content_hash=content_hash(title=title, body=body, channels=list(channels), media_digests=[]),
    )


class FakeDrafts:
    """Answers like the drafts service's internal version route, from memory."""

    def __init__(self, *versions: VersionContent) -> None:
        self.versions = {(v.draft_id, v.version): v for v in versions}
        self.calls = 0

    async def get_version(self, draft_id: str, version: int) -> VersionContent:
        self.calls += 1
        try:
            return self.versions[(draft_id, version)]
        except KeyError:
            raise NotFound(f"draft {draft_id} has no version {version}") from None


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
