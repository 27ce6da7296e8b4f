"""Reading an Instagram post's comments for the ingest (the IG Media `comments` edge).

`GET /{ig-media-id}/comments` lists the post's top-level comments, paged by `after` cursors, each
with its `replies` expanded in the same answer (`GET /{ig-comment-id}/replies` continues a
comment's replies past the first page). The IG Media reference does not promise any order, and an
`after` cursor is a place in one listing, not in time: a cursor kept from an earlier read could
skip comments that were listed before it. So every read lists all of the post's comments and keeps
a high-water mark of timestamps and ids (comment_cursor.py), which needs no order at all; the cost
is one listing of the whole post per poll (50 comments a request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.publisher.networks.base import CommentPage, NetworkRejected, Reply
from services.publisher.networks.comment_cursor import HANDED_OVER, Listed, page_after
from services.publisher.networks.meta import MetaGraph, graph_time

COMMENT_FIELDS = "id,text,timestamp,username"
LISTING_FIELDS = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
REQUEST_PAGE = 50  # comments per request
# Comments handed to the ingest per call: each call lists the whole post, so hand over many at once.
COMMENT_PAGE = HANDED_OVER
MAX_LISTING_PAGES = 100  # 5,000 comments on one post; more is refused, never read in part


class InstagramComments:
    def __init__(self, graph: MetaGraph) -> None:
        self.graph = graph

    async def page(self, token: str, media_id: str, *, cursor: str | None) -> CommentPage:
        listed: list[Listed] = []
        for comment in await self._every(token, self.graph.path(media_id, "comments"), LISTING_FIELDS):
            item = _listed(comment, parent=media_id)
            if item is not None:
                listed.append(item)
            replies = comment.get("replies")
            for reply in await self._replies(token, comment, replies):
                child = _listed(reply, parent=str(comment.get("id")))
                if child is not None:
                    listed.append(child)
        return page_after(listed, cursor, limit=COMMENT_PAGE)

    async def _replies(self, token: str, comment: Mapping[str, Any], replies: object) -> list[dict[str, Any]]:
        """The replies expanded in the listing, and the rest of them when Graph says there are more."""
        if not isinstance(replies, dict):
            return []
        data = replies.get("data")
        items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        paging = replies.get("paging")
        if isinstance(paging, dict) and paging.get("next"):
            # The first page again and the rest: the whole edge, read the same way as the post's.
            return await self._every(
                token, self.graph.path(str(comment.get("id")), "replies"), COMMENT_FIELDS
            )
        return items

    async def _every(self, token: str, path: str, fields: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"fields": fields, "limit": REQUEST_PAGE}
        for _page in range(MAX_LISTING_PAGES):
            document = await self.graph.call("GET", path, token=token, replay_safe=True, params=params)
            data = document.get("data")
            if isinstance(data, list):
                items.extend(item for item in data if isinstance(item, dict))
            paging = document.get("paging")
            cursors = paging.get("cursors") if isinstance(paging, dict) else None
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not (isinstance(paging, dict) and paging.get("next") and isinstance(after, str)):
                return items
            params["after"] = after
        raise NetworkRejected(
            f"instagram: more than {MAX_LISTING_PAGES * REQUEST_PAGE} comments under {path}; "
            "not read in part, since a part could skip some"
        )


def _listed(comment: Mapping[str, Any], *, parent: str) -> Listed | None:
    at = graph_time(comment.get("timestamp"))
    if at is None or not comment.get("id"):
        return None  # Graph always sends both; without them there is nothing to order or keep
    reply = Reply(
        external_id=str(comment["id"]),
        author=str(comment.get("username") or ""),
        text=str(comment.get("text") or ""),
        created_at=at,
        url=None,
        in_reply_to=parent,
    )
    return Listed(at=at, reply=reply)
