"""The review service's one door to the drafts service: exact versions and the facts they carry
(text, channels, author, patient-content flag), read over the drafts service's internal API."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx
from temporalio.exceptions import ApplicationError

from services.kit.errors import ClearpostError
from services.kit.http import internal_json


class VersionSource(Protocol):
    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]: ...

    async def author_of(self, draft_id: str, version: int) -> str: ...


class TemplateFiller(Protocol):
    async def fill_template(self, request: dict[str, Any]) -> dict[str, Any]: ...


class DraftsVersionSource:
    """Reads one exact version from the drafts service's internal API (text never enters Temporal)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        """For activities: a version that does not exist is a final failure, not a retry."""
        try:
            return await self._read(draft_id, version)
        except ClearpostError as exc:
            if exc.status_code == 404:
                raise ApplicationError(exc.detail, type="NotFound", non_retryable=True) from exc
            raise

    async def author_of(self, draft_id: str, version: int) -> str:
        """Who wrote the draft, as the drafts service records it (its errors as the caller's HTTP errors)."""
        return str((await self._read(draft_id, version))["author_id"])

    async def _read(self, draft_id: str, version: int) -> dict[str, Any]:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/versions/{version}"
        content: dict[str, Any] = await internal_json(self._http, "GET", path)
        return content

    async def fill_template(self, request: dict[str, Any]) -> dict[str, Any]:
        """A crisis template's text filled with typed values, stored by the drafts service as a new
        draft (idempotent on the request's draft id); its errors as the caller's HTTP errors."""
        content: dict[str, Any] = await internal_json(
            self._http, "POST", "/internal/v1/drafts/from-template", json=request
        )
        return content
