"""The publisher's record of one comment, with its text, read when the review service screens it
(the publisher owns comments and keeps their text sealed)."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from services.kit.http import internal_json


class CommentSource(Protocol):
    async def comment(self, comment_id: str) -> dict[str, Any]: ...


class PublisherComments:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def comment(self, comment_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = await internal_json(self._http, "GET", f"/internal/v1/comments/{comment_id}")
        return answer
