"""How the publisher reads the exact text of an approved version from the drafts service."""

from __future__ import annotations

import hashlib
from typing import Protocol
from urllib.parse import quote

import httpx

from services.kit.errors import ClearpostError, UpstreamUnavailable
from services.kit.http import internal_json
from services.publisher.schemas import ConsentVerdict, DraftReaders, VersionContent


class VersionSource(Protocol):
    async def get_version(self, draft_id: str, version: int) -> VersionContent: ...

    async def consent_check(
        self, draft_id: str, version: int, *, content_hash: str, channels: list[str], categories: list[str]
    ) -> ConsentVerdict:
        """The drafts service's consent gate for this version now (its own records, not the workflow's)."""
        ...

    async def get_media(self, digest: str) -> tuple[bytes, str]:
        """A sanitized image by digest (bytes, media type); the bytes match the digest."""
        ...


class DraftReadRule(Protocol):
    async def readers(self, draft_id: str) -> DraftReaders:
        """Who may read the draft, as the drafts service decides (NotFound if there is none)."""
        ...


class DraftsVersionClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def get_version(self, draft_id: str, version: int) -> VersionContent:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/versions/{version}"
        return VersionContent.model_validate(await internal_json(self._http, "GET", path))

    async def consent_check(
        self, draft_id: str, version: int, *, content_hash: str, channels: list[str], categories: list[str]
    ) -> ConsentVerdict:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/versions/{version}/consent-check"
        body = {"content_hash": content_hash, "channels": channels, "screening_categories": categories}
        return ConsentVerdict.model_validate(await internal_json(self._http, "POST", path, json=body))

    async def get_media(self, digest: str) -> tuple[bytes, str]:
        try:
            response = await self._http.get(f"/internal/v1/media/{quote(digest, safe='')}")
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"the drafts service did not answer: {exc}") from exc
        if response.status_code >= 400:
            raise ClearpostError(
                f"image {digest[:12]}: {response.text}",
                code="media_unavailable",
                status_code=response.status_code,
            )
        if hashlib.sha256(response.content).hexdigest() != digest:
            raise ClearpostError(f"image {digest[:12]} does not match its digest", code="media_mismatch")
        return response.content, response.headers.get("content-type", "application/octet-stream")

    async def live_state(self, draft_id: str, *, status: str, reason: str, cause: str) -> None:
        """Tell the drafts service what became of the live post: `taken_down`, `takedown_failed`,
        or `re_review` (taken down at the end of its lifetime; back to review)."""
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/live-state"
        await internal_json(
            self._http, "POST", path, json={"status": status, "reason": reason, "cause": cause}
        )

    async def readers(self, draft_id: str) -> DraftReaders:
        path = f"/internal/v1/drafts/{quote(draft_id, safe='')}/readers"
        return DraftReaders.model_validate(await internal_json(self._http, "GET", path))
