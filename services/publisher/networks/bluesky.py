"""Bluesky (AT Protocol): posts are `app.bsky.feed.post` records in the account's repository on its PDS.

Never double-post: the record key is a TID derived from the publication (`tid_for`, in
bluesky_text.py), so every attempt writes the same key, and a repository holds one record per key.
`post` asks `com.atproto.repo.getRecord` for that key before it creates, and again when a create
fails (a PDS answers a duplicate key with an error, today a 500): either way the one record is
returned. The record itself (text, facets, images, `createdAt` from the first attempt, kept in a
checkpoint) is the same on every attempt.

Sessions (createSession, refreshSession, the app-password fallback) live in bluesky_xrpc.py.

API followed: https://docs.bsky.app/docs/api/ (com-atproto-server-create-session, -refresh-session,
com-atproto-repo-create-record, -get-record, -delete-record, -upload-blob,
app-bsky-feed-get-post-thread, com-atproto-identity-resolve-handle),
https://docs.bsky.app/docs/advanced-guides/rate-limits (ratelimit-* headers),
https://docs.bsky.app/docs/advanced-guides/posts (images embed, 1,000,000 bytes per image).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    ACCOUNT_UNREACHABLE,
    AccountCheck,
    AccountCredentials,
    Checkpoints,
    CommentPage,
    CredentialsRejected,
    DeletedRef,
    MissingScopes,
    NetworkConfig,
    NetworkLimits,
    NetworkRejected,
    NetworkUnavailable,
    PostedRef,
    PostRequest,
    Reply,
)
from services.publisher.networks.bluesky_text import (
    MAX_GRAPHEMES,
    bluesky_length,
    facet_json,
    facet_spans,
    tid_for,
)
from services.publisher.networks.bluesky_xrpc import XrpcSessions, describe, mapping
from services.publisher.networks.comment_cursor import HANDED_OVER, Listed, page_after

POST_COLLECTION = "app.bsky.feed.post"
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
THREAD_DEPTH = 10
# Levels of replies per getPostThread read for the ingest; deeper ones are read from where the
# answer stops (the lexicon allows 1,000, but JSON that deep is past what Python's parser nests).
COMMENT_DEPTH = 100
MAX_THREAD_READS = 50
COMMENT_PAGE = HANDED_OVER  # replies handed to the ingest per call (the tree is read whole each time)

CHECKPOINT_CREATED_AT = "bluesky:created_at"
CHECKPOINT_BLOB = "bluesky:blob:"  # + digest -> the blob ref JSON uploadBlob answered


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """(repo DID, collection, record key) of `at://did/collection/rkey`."""
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or not all(parts):
        raise NetworkRejected(f"bluesky: not a record URI: {uri[:200]}")
    return parts[0], parts[1], parts[2]


def post_url(handle: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{rkey}"


class BlueskyAdapter:
    """Posts as one account on its PDS (`account.base_url`, else the configured one)."""

    network: ClassVar[str] = "bluesky"

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._xrpc = XrpcSessions(config, transport=transport, sleep=sleep, clock=clock)

    # --- limits and account ---------------------------------------------------------------------

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        return NetworkLimits(
            max_length=MAX_GRAPHEMES,
            measure=bluesky_length,
            unit="graphemes",
            max_images=MAX_IMAGES,
            max_image_bytes=MAX_IMAGE_BYTES,
        )

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        """A fresh session (refreshed, else created from the app password), kept in `renewed`."""
        try:
            self._xrpc.forget(account)
            refresh = account.settings.get("refresh_jwt")
            session = await self._xrpc.refresh_session(account, refresh) if refresh else None
            if session is None and not account.app_password and refresh:
                raise CredentialsRejected(
                    "bluesky: the session expired and no app password is stored", expired=True
                )
            session = session or await self._xrpc.create_session(account)
        except CredentialsRejected as exc:
            return AccountCheck(status=ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED, reason=str(exc))
        except MissingScopes as exc:
            return AccountCheck(status=ACCOUNT_MISSING_SCOPES, reason=str(exc))
        except NetworkRejected as exc:
            # createSession's 400s: AccountTakedown, AuthFactorTokenRequired; the account cannot post.
            return AccountCheck(status=ACCOUNT_REVOKED, reason=str(exc))
        except NetworkUnavailable as exc:
            return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc))
        settings = {**account.settings, "access_jwt": session.access_jwt, "refresh_jwt": session.refresh_jwt}
        settings["handle"] = session.handle
        renewed = dataclasses.replace(account, account_ref=session.did, settings=settings)
        return AccountCheck(
            status=ACCOUNT_OK,
            account_ref=session.did,
            display_name=session.handle,
            settings={"handle": session.handle},
            renewed=renewed,
        )

    # --- posting --------------------------------------------------------------------------------

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        rkey = tid_for(request.idempotency_key)
        existing = await self.find(account, request, checkpoints, since=datetime.fromtimestamp(0, UTC))
        if existing is not None:
            return existing
        if len(request.media) > MAX_IMAGES:
            raise NetworkRejected(f"bluesky: at most {MAX_IMAGES} images per post, not {len(request.media)}")
        for media in request.media:
            if len(media.data) > MAX_IMAGE_BYTES:
                raise NetworkRejected(f"bluesky: image {media.digest[:12]} is over {MAX_IMAGE_BYTES} bytes")
        created_at = await checkpoints.get(CHECKPOINT_CREATED_AT)
        if created_at is None:
            moment = datetime.fromtimestamp(self._clock(), UTC)
            created_at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            await checkpoints.put(CHECKPOINT_CREATED_AT, created_at)
        record: dict[str, Any] = {"$type": POST_COLLECTION, "text": request.text, "createdAt": created_at}
        facets = await self._facets(account, request.text)
        if facets:
            record["facets"] = facets
        if request.media:
            images = []
            for media in request.media:
                blob = await self._upload(account, media.digest, media.media_type, media.data, checkpoints)
                images.append({"alt": "", "image": blob})
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        session = await self._xrpc.session(account)
        body = {"repo": session.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record}
        try:
            # Replay-safe: the key is fixed, so a replay cannot make a second record.
            response, session = await self._xrpc.call(
                account, "POST", "com.atproto.repo.createRecord", json_body=body
            )
        except (NetworkRejected, NetworkUnavailable):
            # A replay after a lost answer hits the record the first attempt made.
            found = await self.find(account, request, checkpoints, since=datetime.fromtimestamp(0, UTC))
            if found is not None:
                return found
            raise
        answer = mapping(response.json())
        uri = str(answer["uri"])
        evidence = {"uri": uri, "cid": answer.get("cid"), "record": record}
        return PostedRef(external_id=uri, url=post_url(session.handle, rkey), evidence=evidence)

    async def _facets(self, account: AccountCredentials, text: str) -> list[dict[str, object]]:
        facets = []
        for span in facet_spans(text):
            did = None
            if span.kind == "mention":
                did = await self._resolve_handle(account, span.value)
                if did is None:
                    continue  # not a Bluesky handle: left as plain text, as the app does
            facets.append(facet_json(span, did=did))
        return facets

    async def _resolve_handle(self, account: AccountCredentials, handle: str) -> str | None:
        response, _ = await self._xrpc.call(
            account,
            "GET",
            "com.atproto.identity.resolveHandle",
            params={"handle": handle},
            allow=frozenset({"InvalidRequest", "HandleNotFound"}),
        )
        did = mapping(response.json()).get("did") if response.status_code == 200 else None
        return str(did) if did else None

    async def _upload(
        self, account: AccountCredentials, digest: str, media_type: str, data: bytes, checkpoints: Checkpoints
    ) -> Mapping[str, Any]:
        """The blob ref for one image; uploads are content-addressed, so a replay is harmless."""
        stored = await checkpoints.get(CHECKPOINT_BLOB + digest)
        if stored:
            return mapping(json.loads(stored))
        response, _ = await self._xrpc.call(
            account,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=data,
            headers={"Content-Type": media_type},
        )
        blob = mapping(mapping(response.json()).get("blob"))
        await checkpoints.put(CHECKPOINT_BLOB + digest, json.dumps(blob))
        return blob

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        """The record under this publication's key, whenever it was made (`since` is not needed)."""
        rkey = tid_for(request.idempotency_key)
        session = await self._xrpc.session(account)
        response, session = await self._xrpc.call(
            account,
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": session.did, "collection": POST_COLLECTION, "rkey": rkey},
            allow=frozenset({"RecordNotFound"}),
        )
        if response.status_code != 200:
            return None
        answer = mapping(response.json())
        evidence = {"uri": answer.get("uri"), "cid": answer.get("cid"), "record": answer.get("value")}
        return PostedRef(
            external_id=str(answer["uri"]), url=post_url(session.handle, rkey), evidence=evidence
        )

    # --- after posting --------------------------------------------------------------------------

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        repo, collection, rkey = split_at_uri(external_id)
        where = {"repo": repo, "collection": collection, "rkey": rkey}
        # deleteRecord succeeds for a key that holds nothing, so ask first whether it is there.
        response, _ = await self._xrpc.call(
            account, "GET", "com.atproto.repo.getRecord", params=where, allow=frozenset({"RecordNotFound"})
        )
        if response.status_code != 200:
            return DeletedRef(external_id, response.status_code, describe(response), already_gone=True)
        response, _ = await self._xrpc.call(account, "POST", "com.atproto.repo.deleteRecord", json_body=where)
        return DeletedRef(external_id, response.status_code, "deleted")

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        return [item.reply for item in await self._thread(account, external_id, THREAD_DEPTH)]

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """The thread's replies not read before. getPostThread answers the whole reply tree at once
        (no paging, no promised order), so every read walks it and keeps a high-water mark of
        `indexedAt` (when the AppView saw the reply; `createdAt` is the author's own claim) and
        post URIs (comment_cursor.py)."""
        listed = await self._thread(account, external_id, COMMENT_DEPTH)
        return page_after(listed, cursor, limit=COMMENT_PAGE)

    async def _thread(self, account: AccountCredentials, external_id: str, depth: int) -> list[Listed]:
        """Every reply under the post, flattened, each with the time the cursor orders it by. A
        reply at the depth asked for whose `replyCount` says it has replies is read again as the
        top of its own thread, so no level is cut off."""
        listed: list[Listed] = []
        tops = [external_id]
        for _read in range(MAX_THREAD_READS):
            if not tops:
                return listed
            response, _ = await self._xrpc.call(
                account,
                "GET",
                "app.bsky.feed.getPostThread",
                params={"uri": tops.pop(), "depth": depth, "parentHeight": 0},
            )
            thread = mapping(mapping(response.json()).get("thread"))
            # Depth first, parents before their replies, without recursion.
            pending = [(mapping(child), 1) for child in reversed(thread.get("replies") or [])]
            while pending:
                view, level = pending.pop()
                post = mapping(view.get("post"))
                if not post:
                    continue  # notFoundPost / blockedPost
                item = _listed(post)
                if item is not None:
                    listed.append(item)
                children = view.get("replies") or []
                if level >= depth and not children and (post.get("replyCount") or 0) > 0 and item:
                    tops.append(item.reply.external_id)
                pending.extend((mapping(child), level + 1) for child in reversed(children))
        if tops:
            raise NetworkRejected(
                f"bluesky: the thread of {external_id} is deeper than {MAX_THREAD_READS * depth} "
                "replies; not read in part, since a part could skip some"
            )
        return listed


def _listed(post: Mapping[str, Any]) -> Listed | None:
    """One reply of a thread view, ordered by `indexedAt` (its `createdAt` where the AppView gave none)."""
    record = mapping(post.get("record"))
    author = mapping(post.get("author"))
    uri = str(post.get("uri") or "")
    parent = mapping(mapping(record.get("reply")).get("parent")).get("uri")
    handle = str(author.get("handle") or author.get("did") or "")
    created = _parse_time(record.get("createdAt"))
    at = _parse_time(post.get("indexedAt")) or created
    if not uri or at is None:
        return None
    reply = Reply(
        external_id=uri,
        author=handle,
        text=str(record.get("text") or ""),
        created_at=created,
        url=post_url(handle, uri.rsplit("/", 1)[-1]),
        in_reply_to=str(parent) if parent else None,
    )
    return Listed(at=at, reply=reply)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
