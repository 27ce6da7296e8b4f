"""The review service's signing key and a fake drafts service for its activities."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from services.kit.tokens import load_key_ring
from services.review.signing import KEY_NAME, ReviewSigner

SIGNER = ReviewSigner(load_key_ring(Path(tempfile.mkdtemp()), KEY_NAME))


class FakeVersions:
    def __init__(self, *versions: dict[str, Any]) -> None:
        self.versions = {(v["draft_id"], v["version"]): v for v in versions}

    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        return self.versions[(draft_id, version)]


class FakeChannelStates:
    """The publisher's answer to "can these channels take a post now?": all can, unless told."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self.asked: list[list[str]] = []

    async def unusable(self, names: list[str]) -> dict[str, str]:
        self.asked.append(list(names))
        return {name: why for name, why in self.problems.items() if name in names}
