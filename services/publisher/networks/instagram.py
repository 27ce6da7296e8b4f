"""Posting to an Instagram business account (Instagram API with Facebook Login) through Graph.

Instagram fetches each image itself from a public URL (`request.media_urls[digest]`, an expiring URL
the publisher serves) into a *media container*; publishing the container makes the post. The
container id is written to the checkpoints (`instagram.container`) before `media_publish` is called,
so a replay never creates a second post: it asks the stored container for its `status_code`, and a
`PUBLISHED` container means the media exists and is only looked up (the account's media since the
first attempt with the same caption), never published again. Several images make one CAROUSEL.

Delete: the IG Media reference documents no delete operation for published media (only comments
can be deleted through the API), so `delete` raises NotSupported and the post has to be removed by
hand in the Instagram app.
"""

from __future__ import annotations

import asyncio
import json
import re
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
    NetworkRejected,
    NetworkUnavailable,
    NotSupported,
    OAuthEndpoints,
    PostedRef,
    PostRequest,
    Reply,
)
from services.publisher.networks.instagram_comments import InstagramComments
from services.publisher.networks.meta import GraphObjectMissing, MetaGraph, graph_time, meta_oauth_endpoints
from services.publisher.networks.meta_accounts import MetaAccounts

SCOPES = (
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "pages_show_list",
    "pages_read_engagement",
)
REQUIRED_SCOPES = ("instagram_basic", "instagram_content_publish", "pages_show_list", "pages_read_engagement")
MAX_CAPTION = 2_200
# Feeds show about the first 125 characters of a caption before "... more".
FOLD = 125
MAX_HASHTAGS = 30
MAX_IMAGES = 10
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg",)  # "JPEG is the only image format supported" (IG User Media reference)
POLL_SECONDS = 3.0
MAX_POLLS = 20
CLOCK_SKEW = timedelta(minutes=5)
HASHTAG = re.compile(r"(?<![\w&])#\w+")

CONTAINER = "instagram.container"
SENT = "instagram.sent"
POSTED = "instagram.media"

FINISHED, PUBLISHED, IN_PROGRESS = "FINISHED", "PUBLISHED", "IN_PROGRESS"
FAILED = ("ERROR", "EXPIRED")


def count_hashtags(text: str) -> int:
    return len(HASHTAG.findall(text))


def _require(account: AccountCredentials) -> tuple[str, str]:
    if not account.access_token or not account.account_ref:
        raise CredentialsRejected(
            "instagram: the account has no token or Instagram user id; connect it again"
        )
    return account.access_token, account.account_ref


class InstagramAdapter:
    """An Instagram business account: one image or a carousel of up to ten, with a caption."""

    network: ClassVar[str] = "instagram"

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self.graph = MetaGraph(self.network, config, transport=transport, sleep=sleep, clock=clock)
        self._comments = InstagramComments(self.graph)
        self.accounts = MetaAccounts(
            self.graph,
            page_fields="id,name,access_token,instagram_business_account{id,username}",
            required_scopes=REQUIRED_SCOPES,
        )

    # --- accounts ------------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return meta_oauth_endpoints(self.config, SCOPES)

    async def account_from_grant(
        self, name: str, token: Mapping[str, object], *, target: str | None
    ) -> AccountCredentials:
        """The Instagram business account `target` (its IG user id), through the Facebook Page it is
        linked to; posts go out with that Page's token."""
        if not target:
            raise ValueError("instagram: name the Instagram business account (its IG user id) to connect")
        return await self.accounts.credentials(
            name=name,
            token=token,
            match=lambda page: _ig_id(page) == target,
            what=f"Instagram account {target}",
            account_ref=lambda page: str(_ig_id(page)),
            settings=_ig_settings,
        )

    async def refresh(self, account: AccountCredentials) -> AccountCredentials:
        """As for Facebook: exchange the kept long-lived user token again and re-read the Page token."""
        ref = account.account_ref
        return await self.accounts.refresh(account, lambda page: _ig_id(page) == ref, _ig_settings)

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        return await self.accounts.check(
            account,
            fields="id,username",
            display=lambda node: str(node["username"]) if node.get("username") else None,
            renew=self.refresh,
        )

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        return NetworkLimits(
            max_length=MAX_CAPTION,
            measure=len,
            max_images=MAX_IMAGES,
            max_hashtags=MAX_HASHTAGS,
            requires_image=True,
            max_image_bytes=MAX_IMAGE_BYTES,
            fold=FOLD,
        )

    # --- posts ---------------------------------------------------------------------------------

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        token, ig_id = _require(account)
        stored = await _stored(checkpoints)
        if stored is not None:
            return stored
        container = await checkpoints.get(CONTAINER) or None
        if container is not None:
            status = await self._status(token, container)
            if status == PUBLISHED:
                return await self._published(account, request, checkpoints)
            if status in FAILED:
                container = None  # never published: a new container is safe
        if container is None:
            image_urls = self._checked(request)
            if not await checkpoints.get(SENT):
                await checkpoints.put(SENT, datetime.fromtimestamp(self._clock(), UTC).isoformat())
            container = await self._create_container(token, ig_id, request.text, image_urls)
            await checkpoints.put(CONTAINER, container)
        await self._wait_until_finished(token, container, checkpoints)
        try:
            answer = await self.graph.call(
                "POST",
                self.graph.path(ig_id, "media_publish"),
                token=token,
                replay_safe=False,
                data={"creation_id": container},
            )
        except NetworkRejected:
            # Refused, perhaps because an earlier, unanswered attempt already published it.
            if await self._status(token, container) == PUBLISHED:
                return await self._published(account, request, checkpoints)
            raise
        media_id = str(answer["id"])
        url = await self._permalink(token, media_id)
        await checkpoints.put(POSTED, json.dumps({"id": media_id, "url": url}))
        return PostedRef(external_id=media_id, url=url, evidence={"id": media_id, "container": container})

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        stored = await _stored(checkpoints)
        if stored is not None:
            return stored
        token, ig_id = _require(account)
        container = await checkpoints.get(CONTAINER)
        if container and await self._status(token, container) != PUBLISHED:
            return None  # the container we made was never published, and only we publish it
        sent = await checkpoints.get(SENT)
        start = min(since, datetime.fromisoformat(sent)) if sent else since
        media = await self.graph.listing(
            self.graph.path(ig_id, "media"),
            token=token,
            params={
                "fields": "id,caption,timestamp,permalink",
                "since": int((start - CLOCK_SKEW).timestamp()),
                "limit": 100,
            },
        )
        matches = [item for item in media if item.get("caption") == request.text and item.get("id")]
        if not matches:
            return None
        earliest = min(matches, key=lambda item: str(item.get("timestamp") or ""))
        media_id = str(earliest["id"])
        url = str(earliest["permalink"]) if earliest.get("permalink") else None
        await checkpoints.put(POSTED, json.dumps({"id": media_id, "url": url}))
        return PostedRef(external_id=media_id, url=url, evidence={"found": True, **earliest})

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        """Asks Graph to delete the media (`DELETE /{ig-media-id}`, which Meta's IG Media reference
        does not list; third parties report it works for accounts connected with Facebook Login).
        Where Graph answers that it cannot, NotSupported says how to remove it by hand; the
        takedown then ends visibly failed until someone records the removal
        (`POST /api/v1/publications/{id}/removed-by-hand`)."""
        token, _ig_id = _require(account)
        try:
            answer = await self.graph.call(
                "DELETE", self.graph.path(external_id), token=token, replay_safe=True
            )
        except GraphObjectMissing as exc:
            return DeletedRef(external_id=external_id, status_code=404, answer=str(exc), already_gone=True)
        except NetworkRejected as exc:
            if "unsupported" not in str(exc).lower():
                raise
            raise NotSupported(
                f"instagram: Graph cannot delete published media ({exc}); remove post {external_id} "
                "by hand in the Instagram app (open the post, ..., Delete), then record it as removed by hand"
            ) from exc
        return DeletedRef(external_id=external_id, status_code=200, answer=json.dumps(answer))

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        token, _ig_id = _require(account)
        comments = await self.graph.listing(
            self.graph.path(external_id, "comments"),
            token=token,
            params={"fields": "id,text,username,timestamp,parent_id", "limit": 50},
        )
        return [
            Reply(
                external_id=str(comment.get("id")),
                author=str(comment.get("username") or ""),
                text=str(comment.get("text") or ""),
                created_at=graph_time(comment.get("timestamp")),
                url=None,
                in_reply_to=str(comment.get("parent_id") or external_id),
            )
            for comment in comments
        ]

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """The post's comments and their replies not read before (instagram_comments.py)."""
        token, _ig_id = _require(account)
        return await self._comments.page(token, external_id, cursor=cursor)

    async def hide_comment(self, account: AccountCredentials, comment_id: str) -> None:
        """Hidden from everyone but its author (POST /{ig-comment-id} hide=true,
        instagram_manage_comments)."""
        token, _ig_id = _require(account)
        await self.graph.call(
            "POST", self.graph.path(comment_id), token=token, replay_safe=True, data={"hide": "true"}
        )

    # --- helpers -------------------------------------------------------------------------------

    def _checked(self, request: PostRequest) -> list[str]:
        """The images' public URLs, or NetworkRejected saying why Instagram cannot take this post."""
        if not request.media:
            raise NetworkRejected("instagram: a post needs at least one image")
        if len(request.media) > MAX_IMAGES:
            raise NetworkRejected(f"instagram: at most {MAX_IMAGES} images in one post")
        if len(request.text) > MAX_CAPTION:
            raise NetworkRejected(f"instagram: the caption is longer than {MAX_CAPTION} characters")
        if count_hashtags(request.text) > MAX_HASHTAGS:
            raise NetworkRejected(f"instagram: the caption has more than {MAX_HASHTAGS} hashtags")
        urls: list[str] = []
        for item in request.media:
            if item.media_type not in IMAGE_TYPES:
                raise NetworkRejected(f"instagram: only JPEG images can be published (not {item.media_type})")
            url = request.media_urls.get(item.digest)
            if not url:
                raise NetworkRejected(
                    "instagram: Instagram fetches images from a public URL and this deployment gave none "
                    f"for image {item.digest[:12]}; set the publisher's public media URL"
                )
            urls.append(url)
        return urls

    async def _create_container(self, token: str, ig_id: str, caption: str, image_urls: list[str]) -> str:
        """One container (one image) or a CAROUSEL of child containers. Unpublished containers are
        never shown and expire in 24 hours, so creating one again is safe."""
        path = self.graph.path(ig_id, "media")
        if len(image_urls) == 1:
            answer = await self.graph.call(
                "POST",
                path,
                token=token,
                replay_safe=True,
                data={"image_url": image_urls[0], "caption": caption},
            )
            return str(answer["id"])
        children = []
        for url in image_urls:
            child = await self.graph.call(
                "POST",
                path,
                token=token,
                replay_safe=True,
                data={"image_url": url, "is_carousel_item": "true"},
            )
            children.append(str(child["id"]))
        answer = await self.graph.call(
            "POST",
            path,
            token=token,
            replay_safe=True,
            data={"media_type": "CAROUSEL", "children": ",".join(children), "caption": caption},
        )
        return str(answer["id"])

    async def _status(self, token: str, container: str) -> str:
        try:
            node = await self.graph.call(
                "GET",
                self.graph.path(container),
                token=token,
                replay_safe=True,
                params={"fields": "status_code,status"},
            )
        except GraphObjectMissing:
            return "EXPIRED"
        return str(node.get("status_code") or "")

    async def _wait_until_finished(self, token: str, container: str, checkpoints: Checkpoints) -> None:
        for _poll in range(MAX_POLLS):
            status = await self._status(token, container)
            if status == FINISHED:
                return
            if status in FAILED:
                await checkpoints.put(CONTAINER, "")  # never published; the next attempt starts afresh
                raise NetworkRejected(
                    f"instagram: the media container ended {status} (Instagram could not use it)"
                )
            if status == PUBLISHED:
                return  # media_publish will be refused and the refusal handled
            await self._sleep(POLL_SECONDS)
        raise NetworkUnavailable("instagram: the media container is still being processed; try again later")

    async def _published(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        sent = await checkpoints.get(SENT)
        since = (
            datetime.fromisoformat(sent)
            if sent
            else datetime.fromtimestamp(self._clock(), UTC) - timedelta(days=1)
        )
        found = await self.find(account, request, checkpoints, since=since)
        if found is None:
            raise NetworkUnavailable(
                "instagram: the container is published but the media is not listed yet; try again later"
            )
        return found

    async def _permalink(self, token: str, media_id: str) -> str | None:
        try:
            node = await self.graph.call(
                "GET",
                self.graph.path(media_id),
                token=token,
                replay_safe=True,
                params={"fields": "permalink"},
            )
        except ChannelError:
            return None
        url = node.get("permalink")
        return str(url) if url else None


def _ig_id(page: Mapping[str, Any]) -> str | None:
    account = page.get("instagram_business_account")
    return str(account["id"]) if isinstance(account, dict) and account.get("id") else None


def _ig_settings(page: Mapping[str, Any]) -> dict[str, str]:
    account = page.get("instagram_business_account")
    username = account.get("username") if isinstance(account, dict) else None
    return {"page_id": str(page.get("id") or ""), "username": str(username or "")}


async def _stored(checkpoints: Checkpoints) -> PostedRef | None:
    raw = await checkpoints.get(POSTED)
    if not raw:
        return None
    document: dict[str, Any] = json.loads(raw)
    url = document.get("url")
    return PostedRef(
        external_id=str(document["id"]), url=str(url) if url else None, evidence={"stored": True}
    )
