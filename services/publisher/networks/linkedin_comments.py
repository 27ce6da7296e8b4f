"""Reading a LinkedIn post's comments for the ingest (Community Management API, socialActions).

`GET /rest/socialActions/{share or ugcPost URN}/comments` lists the post's comments, paged by
`start` and `count`; a comment with replies says so in its `commentsSummary`, and its replies are
`GET /rest/socialActions/{comment URN}/comments`, paged the same way. LinkedIn does not document the
listing's order, and an offset moves when a comment is deleted, so a kept `start` could skip. Every
read lists all of the post's comments and replies instead and keeps a high-water mark of
`created.time` and comment URNs (comment_cursor.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from services.publisher.networks.base import CommentPage, NetworkRejected, Reply
from services.publisher.networks.comment_cursor import HANDED_OVER, Listed, page_after
from services.publisher.networks.http import NetworkHttp

REQUEST_PAGE = 50  # comments per request
# Comments handed to the ingest per call: each call lists the whole post, so hand over many at once.
COMMENT_PAGE = HANDED_OVER
MAX_LISTING_PAGES = 100  # 5,000 comments under one post or comment; more is refused, not read in part


class LinkedInComments:
    def __init__(self, api: NetworkHttp, headers: Mapping[str, str]) -> None:
        self._api = api
        self._headers = dict(headers)

    async def page(self, token: str | None, post_urn: str, *, cursor: str | None) -> CommentPage:
        listed: list[Listed] = []
        for element in await self._every(token, post_urn):
            item = _listed(element, parent=post_urn)
            if item is None:
                continue
            listed.append(item)
            summary = element.get("commentsSummary")
            if isinstance(summary, dict) and (summary.get("aggregatedTotalComments") or 0) > 0:
                for reply in await self._every(token, item.reply.external_id):
                    child = _listed(reply, parent=item.reply.external_id)
                    if child is not None:
                        listed.append(child)
        return page_after(listed, cursor, limit=COMMENT_PAGE)

    async def _every(self, token: str | None, urn: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        path = f"/rest/socialActions/{quote(urn, safe='')}/comments"
        for page in range(MAX_LISTING_PAGES):
            response = await self._api.request(
                "GET",
                path,
                replay_safe=True,
                token=token,
                headers=self._headers,
                params={"start": page * REQUEST_PAGE, "count": REQUEST_PAGE},
            )
            document = response.json()
            elements = document.get("elements") if isinstance(document, dict) else None
            chunk = [e for e in elements if isinstance(e, dict)] if isinstance(elements, list) else []
            items.extend(chunk)
            paging = document.get("paging") if isinstance(document, dict) else None
            total = paging.get("total") if isinstance(paging, dict) else None
            if len(chunk) < REQUEST_PAGE or (isinstance(total, int) and len(items) >= total):
                return items
        raise NetworkRejected(
            f"linkedin: more than {MAX_LISTING_PAGES * REQUEST_PAGE} comments under {urn}; "
            "not read in part, since a part could skip some"
        )


def _listed(element: Mapping[str, Any], *, parent: str) -> Listed | None:
    urn = element.get("$URN") or element.get("commentUrn")
    created = element.get("created")
    millis = created.get("time") if isinstance(created, dict) else None
    if not urn or not isinstance(millis, int):
        return None  # LinkedIn always sends both; without them there is nothing to order or keep
    at = datetime.fromtimestamp(millis / 1000, tz=UTC)
    message = element.get("message")
    reply = Reply(
        external_id=str(urn),
        author=str(element.get("actor") or ""),
        text=str(message.get("text") or "") if isinstance(message, dict) else "",
        created_at=at,
        url=None,
        in_reply_to=parent,
    )
    return Listed(at=at, reply=reply)
