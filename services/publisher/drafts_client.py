"""How the publisher reads the exact text of an approved version from the drafts service."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

import httpx

from services.kit.http import internal_json
from services.publisher.schemas import VersionContent


class VersionSource(Protocol):
    async def get_version(self, draft_id: str, version: int) -> VersionContent: ...


class DraftsVersionClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def get_version(self, draft_id: str, version: int) -> VersionContent:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/versions/{version}"
        return VersionContent.model_validate(await internal_json(self._http, "GET", path))
