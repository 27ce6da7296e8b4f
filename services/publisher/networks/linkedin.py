"""LinkedIn organization pages, through the versioned Posts API (`/rest/...`).

LinkedIn has no idempotency key, so `post` records a checkpoint before it sends and, when a previous
attempt's fate is unknown, asks `find` (the page's recent posts with the same commentary) before it
sends again. Commentary is "little" text: every reserved character is escaped so the post shows
exactly the approved text (an unescaped one makes LinkedIn cut the text there).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

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
    OAuthEndpoints,
    PostedRef,
    PostRequest,
    Reply,
)
from services.publisher.networks.http import MAX_SNIPPET, NetworkHttp
from services.publisher.networks.linkedin_comments import LinkedInComments

# One Marketing API version for every call; LinkedIn supports each for about a year.
LINKEDIN_VERSION = "202605"
SCOPES = ("w_organization_social", "r_organization_social", "rw_organization_admin")
RESERVED = frozenset("|{}@[]()<>#\\*_~")
MAX_COMMENTARY = 3000
# The feed shows about the first 210 characters of a post before "...see more".
FOLD = 210
MAX_IMAGES = 20
FIND_PAGE = 50
CLOCK_SKEW = timedelta(minutes=2)
DUPLICATE_OF = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):\d+)")


def escape_little(text: str) -> str:
    """`text` in LinkedIn's little text format, every reserved character escaped so it shows as is."""
    return "".join(f"\\{char}" if char in RESERVED else char for char in text)


def unescape_little(commentary: str) -> str:
    """The plain text of a little-format commentary (escapes resolved)."""
    out: list[str] = []
    chars = iter(commentary)
    for char in chars:
        out.append(next(chars, "\\") if char == "\\" else char)
    return "".join(out)


def describe(response: httpx.Response) -> str:
    """LinkedIn's error body `{"status", "serviceErrorCode", "code", "message"}` as one line."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:MAX_SNIPPET].strip()
    if not isinstance(document, dict):
        return json.dumps(document)[:MAX_SNIPPET]
    code = document.get("code") or document.get("error") or ""
    message = document.get("message") or document.get("error_description") or ""
    return (f"{code}: {message}" if code and message else str(code or message))[:MAX_SNIPPET]


def parse_scopes(raw: object) -> tuple[str, ...]:
    """LinkedIn answers scopes comma-separated; OAuth clients may have split them on spaces."""
    if isinstance(raw, list | tuple):
        raw = " ".join(str(item) for item in raw)
    return tuple(s for s in str(raw or "").replace(",", " ").split() if s)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInAdapter:
    """One LinkedIn app registration; accounts are organization pages their admin connected."""

    network = "linkedin"

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
        common: dict[str, Any] = {
            "timeout_seconds": config.timeout_seconds,
            "max_wait_seconds": config.max_wait_seconds,
            "describe": describe,
            "transport": transport,
            "sleep": sleep,
            "clock": clock,
        }
        self._api = NetworkHttp("linkedin", config.api_base_url or "https://api.linkedin.com", **common)
        self._auth = NetworkHttp("linkedin", config.auth_base_url or "https://www.linkedin.com", **common)
        self._comments = LinkedInComments(self._api, self._headers())

    # --- OAuth ---------------------------------------------------------------------------------

    def oauth_endpoints(self) -> OAuthEndpoints:
        return OAuthEndpoints(
            authorize_url=self._auth.url("/oauth/v2/authorization"),
            token_url=self._auth.url("/oauth/v2/accessToken"),
            scopes=SCOPES,
            token_auth="client_secret_post",
        )

    async def account_from_grant(
        self, name: str, token: Mapping[str, object], *, target: str | None
    ) -> AccountCredentials:
        """The organization page `target` (its numeric id or URN), checked to be administered by
        the user who granted `token`."""
        if not target:
            raise NetworkRejected("linkedin: name the organization page (its id) to connect")
        org_id = target.removeprefix("urn:li:organization:")
        access_token = str(token.get("access_token") or "")
        administered = await self._administered(access_token)
        if org_id not in administered:
            raise NetworkRejected(f"linkedin: the user is not an administrator of organization {org_id}")
        display = await self._organization_name(access_token, org_id)
        return AccountCredentials(
            network=self.network,
            name=name,
            base_url=self._api.base_url,
            access_token=access_token,
            refresh_token=str(token["refresh_token"]) if token.get("refresh_token") else None,
            expires_at=self._expiry(token),
            account_ref=f"urn:li:organization:{org_id}",
            scopes=parse_scopes(token.get("scope")),
            settings={"organization_name": display} if display else {},
        )

    async def refresh(self, account: AccountCredentials) -> AccountCredentials:
        if not account.refresh_token:
            raise CredentialsRejected("linkedin: no refresh token to renew the access token", expired=True)
        try:
            response = await self._auth.request(
                "POST",
                "/oauth/v2/accessToken",
                replay_safe=True,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": account.refresh_token,
                    "client_id": self._config.client_id or "",
                    "client_secret": self._config.client_secret or "",
                },
            )
        except NetworkRejected as exc:
            # 400 invalid_grant: the refresh token expired (a year) or the member revoked the app.
            raise CredentialsRejected(
                f"linkedin: the refresh token was refused ({exc})", expired=True
            ) from exc
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
            scopes=parse_scopes(token.get("scope")) or account.scopes,
            settings=account.settings,
        )

    def _expiry(self, token: Mapping[str, object]) -> datetime | None:
        seconds = token.get("expires_in")
        if not isinstance(seconds, int | float | str) or not str(seconds).isdigit():
            return None
        return datetime.fromtimestamp(self._clock() + int(seconds), tz=UTC)

    # --- the adapter -----------------------------------------------------------------------------

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        # LinkedIn counts the commentary a viewer sees; escapes are not part of it.
        return NetworkLimits(max_length=MAX_COMMENTARY, measure=len, max_images=MAX_IMAGES, fold=FOLD)

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        renewed: AccountCredentials | None = None
        if self._expired_locally(account) and account.refresh_token:
            try:
                renewed = await self.refresh(account)
            except CredentialsRejected as exc:
                return AccountCheck(status=ACCOUNT_EXPIRED, reason=str(exc), account_ref=account.account_ref)
            except NetworkUnavailable as exc:
                return AccountCheck(
                    status=ACCOUNT_UNREACHABLE, reason=str(exc), account_ref=account.account_ref
                )
        current = renewed or account
        check = await self._check(current)
        return AccountCheck(
            status=check.status,
            reason=check.reason,
            account_ref=check.account_ref,
            display_name=check.display_name,
            scopes=check.scopes,
            settings=check.settings,
            renewed=renewed,
        )

    async def _check(self, account: AccountCredentials) -> AccountCheck:
        ref = account.account_ref
        scopes = account.scopes
        try:
            if self._config.client_id and self._config.client_secret:
                introspection = await self._introspect(account)
                status = str(introspection.get("status") or ("active" if introspection.get("active") else ""))
                if status == "expired":
                    return AccountCheck(
                        status=ACCOUNT_EXPIRED, reason="the access token expired", account_ref=ref
                    )
                if status != "active":
                    return AccountCheck(
                        status=ACCOUNT_REVOKED, reason=f"token {status or 'inactive'}", account_ref=ref
                    )
                scopes = parse_scopes(introspection.get("scope")) or scopes
            missing = [s for s in SCOPES if scopes and s not in scopes]
            if missing:
                return AccountCheck(
                    status=ACCOUNT_MISSING_SCOPES,
                    reason=f"missing scopes: {', '.join(missing)}",
                    account_ref=ref,
                    scopes=scopes,
                )
            administered = await self._administered(account.access_token or "")
        except CredentialsRejected as exc:
            status = ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED
            return AccountCheck(status=status, reason=str(exc), account_ref=ref)
        except MissingScopes as exc:
            return AccountCheck(
                status=ACCOUNT_MISSING_SCOPES, reason=str(exc), account_ref=ref, scopes=scopes
            )
        except NetworkUnavailable as exc:
            return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc), account_ref=ref)
        org_id = (ref or "").removeprefix("urn:li:organization:")
        if org_id not in administered:
            return AccountCheck(
                status=ACCOUNT_REVOKED,
                reason="no longer an administrator of the page",
                account_ref=ref,
                scopes=scopes,
            )
        return AccountCheck(
            status=ACCOUNT_OK,
            account_ref=ref,
            display_name=account.settings.get("organization_name"),
            scopes=scopes,
        )

    def _expired_locally(self, account: AccountCredentials) -> bool:
        return account.expires_at is not None and account.expires_at.timestamp() <= self._clock()

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        key = self._checkpoint_key(request)
        previous = await checkpoints.get(key)
        if previous is not None:
            note = json.loads(previous)
            if note.get("urn"):
                return PostedRef(note["urn"], post_url(note["urn"]), {"from_checkpoint": True})
            since = datetime.fromisoformat(note["started_at"])
            found = await self.find(account, request, checkpoints, since=since)
            if found is not None:
                return found
        author = self._author(account)
        if len(request.media) > MAX_IMAGES:
            raise NetworkRejected(f"linkedin: at most {MAX_IMAGES} images per post")
        images = [
            await self._upload_image(account, author, media.data, media.media_type) for media in request.media
        ]
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_little(request.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": {"id": images[0]}}
        elif images:
            body["content"] = {"multiImage": {"images": [{"id": urn} for urn in images]}}
        started = str(json.loads(previous)["started_at"]) if previous else self._now().isoformat()
        await checkpoints.put(key, json.dumps({"started_at": started}))
        try:
            response = await self._api.request(
                "POST",
                "/rest/posts",
                replay_safe=False,
                token=account.access_token,
                headers=self._headers(),
                json_body=body,
            )
        except NetworkRejected as exc:
            # LinkedIn refuses a commentary its page posted moments ago ("Content is a duplicate of
            # urn:li:share:..."): that earlier post is ours when this publication's attempt made it.
            duplicate = DUPLICATE_OF.search(str(exc))
            if duplicate is None or previous is None:
                raise
            urn = duplicate.group(1)
            await checkpoints.put(key, json.dumps({"started_at": started, "urn": urn}))
            return PostedRef(urn, post_url(urn), {"duplicate_of": urn})
        urn = response.headers.get("x-restli-id", "")
        if not urn:
            raise NetworkRejected("linkedin: the post was created but no x-restli-id came back")
        await checkpoints.put(key, json.dumps({"started_at": started, "urn": urn}))
        return PostedRef(
            urn, post_url(urn), {"status": response.status_code, "x-restli-id": urn, "images": images}
        )

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        stored = await checkpoints.get(self._checkpoint_key(request))
        if stored is not None and json.loads(stored).get("urn"):
            urn = json.loads(stored)["urn"]
            return PostedRef(urn, post_url(urn), {"from_checkpoint": True})
        author = self._author(account)
        path = f"/rest/posts?author={quote(author, safe='')}&q=author&count={FIND_PAGE}&sortBy=LAST_MODIFIED"
        response = await self._api.request(
            "GET", path, replay_safe=True, token=account.access_token, headers=self._headers()
        )
        earliest = (since - CLOCK_SKEW).timestamp() * 1000
        for element in response.json().get("elements", []):
            created = element.get("createdAt") or element.get("publishedAt") or 0
            if created < earliest:
                continue
            if unescape_little(str(element.get("commentary", ""))) == request.text:
                urn = str(element["id"])
                return PostedRef(urn, post_url(urn), {"found": True, "createdAt": created})
        return None

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        response = await self._api.request(
            "DELETE",
            f"/rest/posts/{quote(external_id, safe='')}",
            replay_safe=True,
            token=account.access_token,
            headers=self._headers(),
            ok=(404, 410),
        )
        return DeletedRef(
            external_id,
            response.status_code,
            response.text[:MAX_SNIPPET],
            already_gone=response.status_code in (404, 410),
        )

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        response = await self._api.request(
            "GET",
            f"/rest/socialActions/{quote(external_id, safe='')}/comments",
            replay_safe=True,
            token=account.access_token,
            headers=self._headers(),
        )
        replies: list[Reply] = []
        for element in response.json().get("elements", []):
            created_ms = (element.get("created") or {}).get("time")
            replies.append(
                Reply(
                    external_id=str(element.get("$URN") or element.get("id")),
                    author=str(element.get("actor", "")),
                    text=str((element.get("message") or {}).get("text", "")),
                    created_at=datetime.fromtimestamp(created_ms / 1000, tz=UTC) if created_ms else None,
                    in_reply_to=str(element.get("object") or external_id),
                )
            )
        return replies

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """The post's comments and their replies not read before (linkedin_comments.py)."""
        if not account.access_token:
            raise CredentialsRejected("linkedin: no access token is stored for this account")
        return await self._comments.page(account.access_token, external_id, cursor=cursor)

    # --- helpers ---------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"LinkedIn-Version": LINKEDIN_VERSION, "X-Restli-Protocol-Version": "2.0.0"}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _checkpoint_key(self, request: PostRequest) -> str:
        return f"linkedin:{request.idempotency_key}"

    def _author(self, account: AccountCredentials) -> str:
        if not account.account_ref or not account.account_ref.startswith("urn:li:organization:"):
            raise NetworkRejected("linkedin: the account has no organization URN")
        return account.account_ref

    async def _introspect(self, account: AccountCredentials) -> dict[str, Any]:
        response = await self._auth.request(
            "POST",
            "/oauth/v2/introspectToken",
            replay_safe=True,
            data={
                "token": account.access_token or "",
                "client_id": self._config.client_id or "",
                "client_secret": self._config.client_secret or "",
            },
        )
        document = response.json()
        return document if isinstance(document, dict) else {}

    async def _administered(self, access_token: str) -> set[str]:
        response = await self._api.request(
            "GET",
            "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED",
            replay_safe=True,
            token=access_token,
            headers=self._headers(),
        )
        ids: set[str] = set()
        for element in response.json().get("elements", []):
            org = str(element.get("organization") or element.get("organizationalTarget") or "")
            if org.startswith("urn:li:organization:") and element.get("state", "APPROVED") == "APPROVED":
                ids.add(org.removeprefix("urn:li:organization:"))
        return ids

    async def _organization_name(self, access_token: str, org_id: str) -> str | None:
        try:
            response = await self._api.request(
                "GET",
                f"/rest/organizations/{org_id}",
                replay_safe=True,
                token=access_token,
                headers=self._headers(),
            )
        except NetworkRejected:
            return None
        name = response.json().get("localizedName")
        return str(name) if name else None

    async def _upload_image(
        self, account: AccountCredentials, owner: str, data: bytes, media_type: str
    ) -> str:
        """Register an image with LinkedIn, PUT its bytes, and return its URN. Replay-safe: an image
        uploaded twice is only an unused image, never a second post."""
        response = await self._api.request(
            "POST",
            "/rest/images?action=initializeUpload",
            replay_safe=True,
            token=account.access_token,
            headers=self._headers(),
            json_body={"initializeUploadRequest": {"owner": owner}},
        )
        value = response.json().get("value") or {}
        upload_url, image = str(value.get("uploadUrl", "")), str(value.get("image", ""))
        if not upload_url or not image:
            raise NetworkRejected("linkedin: initializeUpload answered without uploadUrl and image")
        # The upload URL carries its own query (a signed upload ticket); NetworkHttp checks absolute
        # URLs as base URLs, which have none, so the query travels as params.
        where, _, query = upload_url.partition("?")
        await self._api.request(
            "PUT",
            where,
            replay_safe=True,
            token=account.access_token,
            params=dict(parse_qsl(query)),
            headers={"Content-Type": media_type or "application/octet-stream"},
            content=data,
        )
        return image
