"""The drafts service's copy of the publisher's channel list: cached briefly, but asked again as soon as
a draft names a channel the copy lacks (an account connected since), so it is not refused meanwhile."""

from __future__ import annotations

import httpx

from services.drafts.channels import PublisherChannelCatalog


async def test_a_channel_connected_since_the_last_read_is_known_at_once() -> None:
    published = [{"name": "sandbox"}]
    asked: list[str] = []

    def publisher(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers["authorization"])
        return httpx.Response(200, json={"channels": list(published)})

    async with httpx.AsyncClient(transport=httpx.MockTransport(publisher)) as http:
        catalog = PublisherChannelCatalog(http, "http://publisher.test")
        assert await catalog.known("t1", ["sandbox"]) == {"sandbox"}
        assert await catalog.known("t2", ["sandbox"]) == {"sandbox"}  # from the copy
        published.append({"name": "clinic-masto"})  # an admin connects an account

        known = await catalog.known("t3", ["clinic-masto"])
        still_unknown = await catalog.known("t4", ["nope"])

    assert known == {"sandbox", "clinic-masto"}
    assert "nope" not in still_unknown
    assert asked == ["Bearer t1", "Bearer t3", "Bearer t4"]
