"""Posting to a Facebook Page through the Graph API, as the Page (with its Page token).

Graph has no idempotency key for Page posts, so `post` writes a checkpoint (`facebook.sent`, the time
of the first send) before it sends, and a later attempt that finds it asks `find` first: the Page's
published posts since then with exactly the same message. Images are uploaded unpublished
(`POST /{page-id}/photos published=false`, safe to repeat: unpublished photos are not shown) and
attached to the one feed post (`attached_media`), so a post and its images appear together or not at
all. The post id and permalink are kept in `facebook.post` once known.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from services.publisher.channels import ChannelError
from services.publisher.networks.base import (
    AccountCheck,
    AccountCredentials,
    Checkpoints,
    CommentPage,
    CredentialsRejected,
    DeletedRef,
    NetworkConfig,
    NetworkLimits,
    OAuthEndpoints,
    PostedRef,
    PostRequest,
    Reply,
)
from services.publisher.networks.meta import GraphObjectMissing, MetaGraph, graph_time, meta_oauth_endpoints
from services.publisher.networks.meta_accounts import MetaAccounts

SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list", "pages_manage_engagement")
REQUIRED_SCOPES = ("pages_manage_posts", "pages_read_engagement", "pages_show_list")
MAX_MESSAGE = 63_206  # Meta's limit on a Page post's message
# The news feed shows about the first 480 characters of a post before "See more".
FOLD = 480
MAX_IMAGES = 10
MAX_IMAGE_BYTES = 4 * 1024 * 1024  # Graph's limit for photo uploads by `source`
CLOCK_SKEW = timedelta(minutes=5)  # `since` is taken this much earlier than our clock says

COMMENT_FIELDS = "id,message,from,created_time,permalink_url,parent"
COMMENT_PAGE = 50  # comments per page read by the ingest

SENT = "facebook.sent"
PHOTOS = "facebook.photos"
POSTED = "facebook.post"


def _require(account: AccountCredentials) -> tuple[str, str]:
    if not account.access_token or not account.account_ref:
        raise CredentialsRejected("facebook: the account has no Page token or Page id; connect it again")
    return account.access_token, account.account_ref


class FacebookAdapter:
    """A Facebook Page: text posts with up to ten images, found again by their exact message."""

    network: ClassVar[str] = "facebook"

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self.graph = MetaGraph(self.network, config, transport=transport, sleep=sleep, clock=clock)
        self.accounts = MetaAccounts(
            self.graph, page_fields="id,name,access_token,tasks", required_scopes=REQUIRED_SCOPES
        )

    # --- accounts ------------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return meta_oauth_endpoints(self.config, SCOPES)

    async def account_from_grant(
        self, name: str, token: Mapping[str, object], *, target: str | None
    ) -> AccountCredentials:
        """The Page `target` (its id) names, with its Page token read with the long-lived user token."""
        if not target:
            raise ValueError("facebook: name the Page (its id) to connect")
        return await self.accounts.credentials(
            name=name,
            token=token,
            match=lambda page: str(page.get("id")) == target,
            what=f"Page {target}",
            account_ref=lambda page: str(page["id"]),
            settings=_page_settings,
        )

    async def refresh(self, account: AccountCredentials) -> AccountCredentials:
        """Meta has no refresh tokens: exchange the kept long-lived user token again
        (fb_exchange_token) and re-read the Page token; CredentialsRejected when Meta refuses."""
        ref = account.account_ref
        return await self.accounts.refresh(account, lambda page: str(page.get("id")) == ref, _page_settings)

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        return await self.accounts.check(
            account,
            fields="id,name",
            display=lambda node: str(node["name"]) if node.get("name") else None,
            renew=self.refresh,
        )

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        return NetworkLimits(
            max_length=MAX_MESSAGE,
            measure=len,
            max_images=MAX_IMAGES,
            max_image_bytes=MAX_IMAGE_BYTES,
            fold=FOLD,
        )

    # --- posts ---------------------------------------------------------------------------------

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        token, page_id = _require(account)
        stored = await _stored(checkpoints)
        if stored is not None:
            return stored
        sent = await checkpoints.get(SENT)
        if sent:
            # An earlier attempt sent the post and did not hear back: look before sending again.
            found = await self.find(account, request, checkpoints, since=datetime.fromisoformat(sent))
            if found is not None:
                return found
        photo_ids = await self._upload_photos(token, page_id, request, checkpoints)
        data: dict[str, str] = {"message": request.text}
        for index, photo_id in enumerate(photo_ids):
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo_id})
        if not sent:
            await checkpoints.put(SENT, datetime.fromtimestamp(self._clock(), UTC).isoformat())
        answer = await self.graph.call(
            "POST", self.graph.path(page_id, "feed"), token=token, replay_safe=False, data=data
        )
        post_id = str(answer["id"])
        url = await self._permalink(token, post_id)
        posted = PostedRef(external_id=post_id, url=url, evidence={"id": post_id, "photos": list(photo_ids)})
        await checkpoints.put(POSTED, json.dumps({"id": post_id, "url": url}))
        return posted

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        stored = await _stored(checkpoints)
        if stored is not None:
            return stored
        token, page_id = _require(account)
        sent = await checkpoints.get(SENT)
        start = min(since, datetime.fromisoformat(sent)) if sent else since
        posts = await self.graph.listing(
            self.graph.path(page_id, "published_posts"),
            token=token,
            params={
                "fields": "id,message,created_time,permalink_url",
                "since": int((start - CLOCK_SKEW).timestamp()),
                "limit": 100,
            },
        )
        matches = [post for post in posts if post.get("message") == request.text and post.get("id")]
        if not matches:
            return None
        # The earliest is ours; any later twin was posted by hand or by another system.
        earliest = min(matches, key=lambda post: str(post.get("created_time") or ""))
        post_id = str(earliest["id"])
        url = earliest.get("permalink_url")
        found = PostedRef(
            external_id=post_id, url=str(url) if url else None, evidence={"found": True, **earliest}
        )
        await checkpoints.put(POSTED, json.dumps({"id": post_id, "url": found.url}))
        return found

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        token, _page_id = _require(account)
        try:
            answer = await self.graph.call(
                "DELETE", self.graph.path(external_id), token=token, replay_safe=True
            )
        except GraphObjectMissing as exc:
            return DeletedRef(external_id=external_id, status_code=404, answer=str(exc), already_gone=True)
        return DeletedRef(external_id=external_id, status_code=200, answer=json.dumps(answer))

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        token, _page_id = _require(account)
        comments = await self.graph.listing(
            self.graph.path(external_id, "comments"),
            token=token,
            params={"fields": COMMENT_FIELDS, "limit": 100},
        )
        return [_reply(comment, external_id) for comment in comments]

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """One page of the post's comments and replies (`filter=stream`: every level, flat;
        `order=chronological`: new ones come after the stored `after` cursor)."""
        token, _page_id = _require(account)
        params: dict[str, str | int] = {
            "fields": COMMENT_FIELDS,
            "filter": "stream",
            "order": "chronological",
            "limit": COMMENT_PAGE,
        }
        if cursor:
            params["after"] = cursor
        document = await self.graph.call(
            "GET", self.graph.path(external_id, "comments"), token=token, replay_safe=True, params=params
        )
        data = document.get("data")
        items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        paging = document.get("paging")
        cursors = paging.get("cursors") if isinstance(paging, dict) else None
        after = cursors.get("after") if isinstance(cursors, dict) else None
        more = bool(isinstance(paging, dict) and paging.get("next") and isinstance(after, str))
        return CommentPage(
            replies=[_reply(item, external_id) for item in items],
            cursor=after if isinstance(after, str) and items else cursor,
            more=more,
        )

    async def hide_comment(self, account: AccountCredentials, comment_id: str) -> None:
        """Hidden from everyone but the commenter and their friends (POST /{comment-id} is_hidden)."""
        token, _page_id = _require(account)
        await self.graph.call(
            "POST", self.graph.path(comment_id), token=token, replay_safe=True, data={"is_hidden": "true"}
        )

    # --- helpers -------------------------------------------------------------------------------

    async def _upload_photos(
        self, token: str, page_id: str, request: PostRequest, checkpoints: Checkpoints
    ) -> list[str]:
        """Each image uploaded unpublished once (ids kept by digest, so a retry does not upload again)."""
        raw = await checkpoints.get(PHOTOS)
        uploaded: dict[str, str] = json.loads(raw) if raw else {}
        ids: list[str] = []
        for index, item in enumerate(request.media):
            if item.digest not in uploaded:
                extension = item.media_type.split("/")[-1]
                answer = await self.graph.call(
                    "POST",
                    self.graph.path(page_id, "photos"),
                    token=token,
                    replay_safe=True,  # unpublished: a second copy is never shown
                    data={"published": "false"},
                    files={"source": (f"image-{index}.{extension}", item.data, item.media_type)},
                )
                uploaded[item.digest] = str(answer["id"])
                await checkpoints.put(PHOTOS, json.dumps(uploaded))
            ids.append(uploaded[item.digest])
        return ids

    async def _permalink(self, token: str, post_id: str) -> str | None:
        try:
            node = await self.graph.call(
                "GET",
                self.graph.path(post_id),
                token=token,
                replay_safe=True,
                params={"fields": "permalink_url"},
            )
        except ChannelError:  # the post exists; a missing URL must not turn success into failure
            return None
        url = node.get("permalink_url")
        return str(url) if url else None


def _reply(comment: Mapping[str, Any], external_id: str) -> Reply:
    author = comment.get("from")
    parent = comment.get("parent")
    return Reply(
        external_id=str(comment.get("id")),
        author=str(author.get("name") or author.get("id")) if isinstance(author, dict) else "",
        text=str(comment.get("message") or ""),
        created_at=graph_time(comment.get("created_time")),
        url=str(comment["permalink_url"]) if comment.get("permalink_url") else None,
        in_reply_to=str(parent["id"]) if isinstance(parent, dict) else external_id,
    )


def _page_settings(page: Mapping[str, Any]) -> dict[str, str]:
    return {"page_name": str(page.get("name") or "")}


async def _stored(checkpoints: Checkpoints) -> PostedRef | None:
    raw = await checkpoints.get(POSTED)
    if not raw:
        return None
    document: dict[str, Any] = json.loads(raw)
    url = document.get("url")
    return PostedRef(
        external_id=str(document["id"]), url=str(url) if url else None, evidence={"stored": True}
    )
