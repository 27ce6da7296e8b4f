"""Sanitized images, stored by their SHA-256 digest (`var/media/<digest>`), written atomically.

Only bytes that came out of `media.sanitize_image` are stored, so what is here (and what the
publisher fetches from here) has no metadata. A read re-checks the digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from services.kit.files import replace_atomically

DIGEST = re.compile(r"^[0-9a-f]{64}$")


class MediaStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path_for(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise ValueError("a media digest is 64 lowercase hex characters")
        return self._root / digest

    async def put(self, digest: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError("the data does not match its digest")
        await asyncio.to_thread(self._write, digest, data)

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path_for(digest)
        if target.exists():
            return  # content-addressed: the same digest is the same bytes
        replace_atomically(target, data, 0o600)

    async def get(self, digest: str) -> bytes | None:
        path = self.path_for(digest)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(f"stored media {digest[:12]} does not match its digest")
        return data
