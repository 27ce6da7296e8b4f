from __future__ import annotations

import hashlib
from collections.abc import Callable

import httpx
import pytest

from services.kit.errors import ClearpostError
from services.publisher.drafts_client import DraftsVersionClient
from tests.unit.publisher_fixtures import draft_version


def drafts_http(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://drafts", transport=httpx.MockTransport(handler))


async def test_reads_the_version_from_the_internal_route() -> None:
    version = draft_version("d-1", 3)
    seen: list[httpx.Request] = []

    def drafts(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={**version.model_dump(), "patient_content": False})

    async with drafts_http(drafts) as http:
        assert await DraftsVersionClient(http).get_version("d-1", 3) == version

    [request] = seen
    assert request.url.path == "/internal/v1/drafts/d-1/versions/3"


async def test_a_missing_version_comes_back_as_a_404_error() -> None:
    def drafts(_: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "not_found", "detail": "no such version"})

    async with drafts_http(drafts) as http:
        with pytest.raises(ClearpostError) as error:
            await DraftsVersionClient(http).get_version("d-1", 9)

    assert error.value.status_code == 404


async def test_an_image_is_fetched_by_digest_and_checked_against_it() -> None:
    image = b"\xff\xd8 image bytes"
    digest = hashlib.sha256(image).hexdigest()
    other = "d4" * 32

    def drafts(request: httpx.Request) -> httpx.Response:
        body = image if request.url.path == f"/internal/v1/media/{digest}" else b"something else"
        return httpx.Response(200, content=body, headers={"content-type": "image/jpeg"})

    async with drafts_http(drafts) as http:
        assert await DraftsVersionClient(http).get_media(digest) == (image, "image/jpeg")
        with pytest.raises(ClearpostError) as mismatch:
            await DraftsVersionClient(http).get_media(other)

    assert mismatch.value.code == "media_mismatch"


async def test_reads_who_may_read_a_draft_from_the_internal_route() -> None:
    seen: list[httpx.Request] = []
    answer = {"draft_id": "d/1", "author_id": "u-1", "reader_roles": ["legal"], "more": 1}

    def drafts(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    async with drafts_http(drafts) as http:
        readers = await DraftsVersionClient(http).readers("d/1")

    assert (readers.author_id, readers.reader_roles) == ("u-1", ["legal"])
    [request] = seen
    assert request.url.raw_path == b"/internal/v1/drafts/d%2F1/readers"
