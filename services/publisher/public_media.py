"""Expiring public links to a post's images, for networks that fetch images themselves (Instagram).

`GET /public/v1/media/{digest}?expires=<unix>&signature=<hex>` answers the sanitized image from the
drafts service when the HMAC-SHA256 signature (a key derived from the publisher's key ring) covers
that digest and expiry and the expiry has not passed. No bearer token: the link is the credential,
for one image, for one hour.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.kit.errors import Forbidden, NotFound

LINK_SECONDS = 3600

router = APIRouter(prefix="/public/v1", tags=["public media"])


class MediaLinks:
    def __init__(self, key: bytes, base_url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._base = base_url.rstrip("/")
        self._clock = clock

    def _signature(self, digest: str, expires: int) -> str:
        return hmac.new(self._key, f"{digest}.{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, digest: str) -> str:
        expires = int(self._clock()) + LINK_SECONDS
        signature = self._signature(digest, expires)
        return f"{self._base}/public/v1/media/{quote(digest)}?expires={expires}&signature={signature}"

    def check(self, digest: str, expires: int, signature: str) -> None:
        if not hmac.compare_digest(self._signature(digest, expires), signature):
            raise Forbidden("this image link is not valid", code="invalid_link")
        if expires < self._clock():
            raise Forbidden("this image link has expired", code="expired_link")


@router.get("/media/{digest}", response_class=Response)
async def public_media(
    request: Request,
    digest: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    expires: Annotated[int, Query(ge=0, le=2**53)],
    signature: Annotated[str, Query(pattern="^[0-9a-f]{64}$")],
) -> Response:
    links: MediaLinks = request.app.state.media_links
    links.check(digest, expires, signature)
    try:
        data, media_type = await request.app.state.drafts.get_media(digest)
    except Exception as exc:  # the drafts service's own error says why; the public learns only this
        raise NotFound("no such image") from exc
    return Response(content=data, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})
