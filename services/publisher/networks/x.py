"""X (API v2), posting as the user who connected through OAuth 2.0 with PKCE.

X has no idempotency key, so `post` records a checkpoint before it sends and, when a previous
attempt's fate is unknown, asks `find` (the user's posts since the first attempt with the same text)
before sending again. X answers text with links replaced by t.co links: `find` puts the original
links back from `entities.urls` and, failing an exact match, compares with every link normalised.
X's own duplicate-content refusal (403) is a second guard after an earlier attempt of the same
publication: `post` then returns the post `find` sees.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from twitter_text import extract_urls_with_indices, parse_tweet  # type: ignore[import-untyped]

from services.publisher.networks.base import (
    ACCOUNT_EXPIRED,
    ACCOUNT_MISSING_SCOPES,
    ACCOUNT_OK,
    ACCOUNT_REVOKED,
    ACCOUNT_UNREACHABLE,
    AccountCheck,
    AccountCredentials,
    AmbiguousOutcome,
    Checkpoints,
    CommentPage,
    CredentialsRejected,
    DeletedRef,
    MissingScopes,
    NetworkConfig,
    NetworkLimits,
    NetworkRejected,
    NetworkUnavailable,
    OAuthEndpoints,
    PostedRef,
    PostRequest,
    Reply,
)
from services.publisher.networks.http import MAX_SNIPPET, NetworkHttp
from services.publisher.networks.x_comments import XComments, original_text, reply_of, users_of

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
MAX_WEIGHTED_LENGTH = 280
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
CLOCK_SKEW = timedelta(minutes=2)
URL_PLACEHOLDER = "\u0000url\u0000"


def describe(response: httpx.Response) -> str:
    """X's problem JSON (`title`, `detail`) or `{"errors": [{"message"}...]}` as one line."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:MAX_SNIPPET].strip()
    if not isinstance(document, dict):
        return json.dumps(document)[:MAX_SNIPPET]
    parts = [str(document[k]) for k in ("title", "detail") if document.get(k)]
    for item in document.get("errors") or []:
        if isinstance(item, dict) and (item.get("message") or item.get("detail")):
            parts.append(str(item.get("message") or item.get("detail")))
    if document.get("error_description") or document.get("error"):
        parts.append(str(document.get("error_description") or document.get("error")))
    return ": ".join(parts)[:MAX_SNIPPET] if parts else json.dumps(document)[:MAX_SNIPPET]


def weighted_length(text: str) -> int:
    """Text length as X counts it (twitter-text: links 23, CJK and emoji 2)."""
    return int(parse_tweet(text).weightedLength)


def comparable(text: str, *, links: bool) -> str:
    """`text` as `find` compares it: NFC, trimmed, and (links=False) every link replaced."""
    text = unicodedata.normalize("NFC", text).strip()
    if links:
        return text
    out, cursor = [], 0
    for found in extract_urls_with_indices(text):
        start, end = found["indices"]
        out += [text[cursor:start], URL_PLACEHOLDER]
        cursor = end
    return re.sub(r"\s+", " ", "".join([*out, text[cursor:]]))


class XAdapter:
    """One X app registration (a confidential OAuth 2.0 client); accounts are X users."""

    network = "x"

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self._api = NetworkHttp(
            "x",
            config.api_base_url or "https://api.x.com",
            timeout_seconds=config.timeout_seconds,
            max_wait_seconds=config.max_wait_seconds,
            describe=describe,
            transport=transport,
            sleep=sleep,
            clock=clock,
        )
        self._auth_base = (config.auth_base_url or "https://x.com").rstrip("/")
        self._comments = XComments(self._call, clock)

    # --- OAuth ---------------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=f"{self._auth_base}/i/oauth2/authorize",
            token_url=self._api.url("/2/oauth2/token"),
            scopes=SCOPES,
            token_auth="client_secret_basic",
        )

    async def account_from_grant(
        self, name: str, token: Mapping[str, object], *, target: str | None
    ) -> AccountCredentials:
        """The X user who granted `token` (X posts only as that user, so `target` is not used)."""
        access_token = str(token.get("access_token") or "")
        me = await self._me(access_token, None)
        return AccountCredentials(
            network=self.network,
            name=name,
            base_url=self._api.base_url,
            access_token=access_token,
            refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
            expires_at=self._expiry(token),
            account_ref=str(me["id"]),
            scopes=tuple(str(token.get("scope") or "").split()),
            settings={"username": str(me.get("username", "")), "name": str(me.get("name", ""))},
        )

    async def refresh(self, account: AccountCredentials) -> AccountCredentials:
        """New credentials; X rotates refresh tokens, so the answer's refresh token replaces ours
        (the old one no longer works: seal the result before anything else)."""
        if not account.refresh_token:
            raise CredentialsRejected("x: no refresh token (was offline.access granted?)", expired=True)
        secret = f"{self._config.client_id or ''}:{self._config.client_secret or ''}".encode()
        try:
            response = await self._api.request(
                "POST",
                "/2/oauth2/token",
                replay_safe=False,  # a lost answer may have used up the refresh token
                headers={"Authorization": f"Basic {base64.b64encode(secret).decode('ascii')}"},
                data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
            )
        except NetworkRejected as exc:
            raise CredentialsRejected(f"x: the refresh token was refused ({exc})", expired=True) from exc
        token = response.json()
        return AccountCredentials(
            network=account.network,
            name=account.name,
            base_url=account.base_url,
            access_token=str(token["access_token"]),
            refresh_token=str(token.get("refresh_token") or account.refresh_token),
            expires_at=self._expiry(token),
            identifier=account.identifier,
            account_ref=account.account_ref,
            scopes=tuple(str(token.get("scope") or "").split()) or account.scopes,
            settings=account.settings,
        )

    def _expiry(self, token: Mapping[str, object]) -> datetime | None:
        seconds = token.get("expires_in")
        if not isinstance(seconds, int | float | str) or not str(seconds).isdigit():
            return None
        return datetime.fromtimestamp(self._clock() + int(seconds), tz=UTC)

    # --- the adapter -----------------------------------------------------------------------------

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        return NetworkLimits(
            max_length=MAX_WEIGHTED_LENGTH,
            measure=weighted_length,
            unit="weighted characters",
            max_images=MAX_IMAGES,
            max_image_bytes=MAX_IMAGE_BYTES,
        )

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        ref, renewed = account.account_ref, None
        if self._expired_locally(account) and account.refresh_token:
            try:
                renewed = await self.refresh(account)
            except CredentialsRejected as exc:
                return AccountCheck(status=ACCOUNT_EXPIRED, reason=str(exc), account_ref=ref)
            except (NetworkUnavailable, AmbiguousOutcome) as exc:
                return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc), account_ref=ref)
        current = renewed or account
        try:
            me = await self._me(current.access_token or "", current)
        except CredentialsRejected as exc:
            status = ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED
            return AccountCheck(status=status, reason=str(exc), account_ref=ref, renewed=renewed)
        except MissingScopes as exc:
            return AccountCheck(
                status=ACCOUNT_MISSING_SCOPES, reason=str(exc), account_ref=ref, renewed=renewed
            )
        except NetworkUnavailable as exc:
            return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc), account_ref=ref, renewed=renewed)
        settings = {"username": str(me.get("username", "")), "name": str(me.get("name", ""))}
        missing = [s for s in SCOPES if current.scopes and s not in current.scopes]
        if missing:
            return AccountCheck(
                status=ACCOUNT_MISSING_SCOPES,
                reason=f"missing scopes: {', '.join(missing)}",
                account_ref=str(me["id"]),
                scopes=current.scopes,
                settings=settings,
                renewed=renewed,
            )
        return AccountCheck(
            status=ACCOUNT_OK,
            account_ref=str(me["id"]),
            display_name=f"@{settings['username']}",
            scopes=current.scopes,
            settings=settings,
            renewed=renewed,
        )

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        key = f"x:{request.idempotency_key}"
        previous = json.loads(await checkpoints.get(key) or "{}")
        if previous.get("id"):
            return self._ref(account, str(previous["id"]), {"from_checkpoint": True})
        started = datetime.fromisoformat(previous["started_at"]) if previous else self._now()
        if previous:
            found = await self.find(account, request, checkpoints, since=started)
            if found is not None:
                return found
        if len(request.media) > MAX_IMAGES:
            raise NetworkRejected(f"x: at most {MAX_IMAGES} images per post")
        media_ids = [await self._upload(account, m.data, m.media_type) for m in request.media]
        body: dict[str, Any] = {"text": request.text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        await checkpoints.put(key, json.dumps({"started_at": started.isoformat()}))
        try:
            response = await self._call("POST", "/2/tweets", account, replay_safe=False, json_body=body)
        except MissingScopes as exc:
            # X answers 403 for more than scopes: a text too long, or one it already has.
            if "too long" in str(exc).lower():
                raise NetworkRejected(str(exc)) from None
            if "duplicate" not in str(exc).lower():
                raise
            if not previous:
                # Not our earlier attempt: the same text is already on the account (another
                # publication, or by hand). Claiming it would tie a takedown to the wrong post.
                raise NetworkRejected(f"{exc} (posted before this publication tried)") from None
            # X refused the text as a duplicate of what this publication's earlier attempt posted.
            found = await self.find(account, request, checkpoints, since=started)
            if found is None:
                raise NetworkRejected(
                    f"{exc} (and no such post of ours since {started:%Y-%m-%d %H:%M})"
                ) from exc
            return found
        data = response.json().get("data") or {}
        tweet_id = str(data.get("id") or "")
        if not tweet_id:
            raise NetworkRejected("x: the post was created but no id came back")
        await checkpoints.put(key, json.dumps({"started_at": started.isoformat(), "id": tweet_id}))
        return self._ref(
            account, tweet_id, {"status": response.status_code, "data": data, "media_ids": media_ids}
        )

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        stored = json.loads(await checkpoints.get(f"x:{request.idempotency_key}") or "{}")
        if stored.get("id"):
            return self._ref(account, str(stored["id"]), {"from_checkpoint": True})
        start = (since - CLOCK_SKEW).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = await self._call(
            "GET",
            f"/2/users/{self._user_id(account)}/tweets",
            account,
            replay_safe=True,
            params={
                "start_time": start,
                "tweet.fields": "created_at,text,entities",
                "max_results": 100,
                "exclude": "retweets,replies",
            },
        )
        tweets = response.json().get("data") or []
        wanted_exact = comparable(request.text, links=True)
        wanted_loose = comparable(request.text, links=False)
        for exact in (True, False):
            for tweet in tweets:
                shown = original_text(tweet)
                if (
                    (comparable(shown, links=True) == wanted_exact)
                    if exact
                    else (comparable(shown, links=False) == wanted_loose)
                ):
                    return self._ref(account, str(tweet["id"]), {"found": True, "exact": exact})
        return None

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        response = await self._call(
            "DELETE", f"/2/tweets/{external_id}", account, replay_safe=True, ok=(404,)
        )
        gone = response.status_code == 404
        if not gone:
            try:
                gone = (response.json().get("data") or {}).get("deleted") is False
            except ValueError:
                gone = False
        return DeletedRef(external_id, response.status_code, response.text[:MAX_SNIPPET], already_gone=gone)

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        response = await self._call(
            "GET",
            "/2/tweets/search/recent",
            account,
            replay_safe=True,
            params={
                "query": f"conversation_id:{external_id}",
                "tweet.fields": "author_id,created_at,conversation_id,referenced_tweets,entities",
                "expansions": "author_id",
                "max_results": 100,
            },
        )
        document = response.json()
        users = users_of(document)
        return [
            reply_of(tweet, users, external_id)
            for tweet in document.get("data") or []
            if str(tweet.get("id")) != external_id  # the post itself is in its own conversation
        ]

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """The conversation's replies after the cursor, oldest first (x_comments.py). A spent rate
        limit is a 429 whose `x-rate-limit-reset` NetworkHttp waits for, or raises RateLimited."""
        return await self._comments.page(account, external_id, cursor=cursor)

    # --- helpers ---------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, account: AccountCredentials, *, replay_safe: bool, **kwargs: Any
    ) -> httpx.Response:
        """One API call with the account's token. X answers a plain 401 for expired and revoked
        tokens alike: the token's own expiry time tells them apart."""
        try:
            return await self._api.request(
                method, path, replay_safe=replay_safe, token=account.access_token, **kwargs
            )
        except CredentialsRejected as exc:
            raise CredentialsRejected(
                str(exc), expired=exc.expired or self._expired_locally(account)
            ) from None

    async def _me(self, access_token: str, account: AccountCredentials | None) -> dict[str, Any]:
        holder = account or AccountCredentials(network="x", name="", base_url="", access_token=access_token)
        response = await self._call("GET", "/2/users/me", holder, replay_safe=True)
        data = response.json().get("data") or {}
        if not data.get("id"):
            raise NetworkRejected("x: users/me answered without a user id")
        return dict(data)

    async def _upload(self, account: AccountCredentials, data: bytes, media_type: str) -> str:
        """The simple v2 upload (one request, base64 in JSON, media_category tweet_image). Replay-safe:
        an image uploaded twice is only an unused upload that expires, never a second post."""
        if len(data) > MAX_IMAGE_BYTES:
            raise NetworkRejected(f"x: an image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
        response = await self._call(
            "POST",
            "/2/media/upload",
            account,
            replay_safe=True,
            json_body={
                "media": base64.b64encode(data).decode("ascii"),
                "media_category": "tweet_image",
                "media_type": media_type,
            },
        )
        media_id = str((response.json().get("data") or {}).get("id") or "")
        if not media_id:
            raise NetworkRejected("x: the media upload answered without an id")
        return media_id

    def _ref(self, account: AccountCredentials, tweet_id: str, evidence: Mapping[str, object]) -> PostedRef:
        username = account.settings.get("username") or "i/web"
        return PostedRef(tweet_id, f"https://x.com/{username}/status/{tweet_id}", evidence)

    def _user_id(self, account: AccountCredentials) -> str:
        if not account.account_ref:
            raise NetworkRejected("x: the account has no user id")
        return account.account_ref

    def _expired_locally(self, account: AccountCredentials) -> bool:
        return account.expires_at is not None and account.expires_at.timestamp() <= self._clock()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)
