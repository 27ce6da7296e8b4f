"""Mastodon: statuses on any instance, posted with the account's access token.

Never double-post: every create carries `Idempotency-Key: <request.idempotency_key>`, so a replay
after an ambiguous timeout answers with the status the first request made instead of a second
one. Mastodon keeps those keys for one hour only (a Redis entry per account and key), so `post`
also records when it first tried and, on any later attempt, asks `find` first: the stored status
id, else the account's statuses since that time whose source text is exactly ours.

API followed: https://docs.joinmastodon.org/methods/statuses/ (create, source, context, delete),
/methods/media/ (v2 upload, 202 while processing), /methods/instance/ (v2 configuration),
/methods/accounts/ (verify_credentials, statuses), /api/rate-limits/ (X-RateLimit-*, ISO reset).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar

import grapheme  # type: ignore[import-untyped]
import httpx

from services.publisher.channels import OutgoingMedia
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
    PostedRef,
    PostRequest,
    RateLimited,
    Reply,
)
from services.publisher.networks.http import NetworkHttp

DEFAULT_MAX_CHARACTERS = 500
URL_WEIGHT = 23  # configuration.statuses.characters_reserved_per_url on every stock instance
MEDIA_POLLS = 10
MEDIA_POLL_SECONDS = 1.0
# Statuses created this long before the first attempt still count (clock skew with the instance).
FIND_SKEW = timedelta(minutes=5)
FIND_PAGES = 5

CHECKPOINT_ATTEMPTED_AT = "mastodon:attempted_at"
CHECKPOINT_STATUS_ID = "mastodon:status_id"
CHECKPOINT_MEDIA = "mastodon:media:"  # + digest -> media attachment id

# Mastodon's StatusLengthValidator: every http(s) URL counts as 23, a remote mention
# `@user@domain` as `@user` only, then grapheme clusters are counted.
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
_MENTION = re.compile(r"(?<![/\w])@([a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)@[a-z0-9.-]+[a-z0-9]", re.IGNORECASE)


def mastodon_length(text: str) -> int:
    """The length Mastodon checks against `max_characters`."""
    countable = _URL.sub("x" * URL_WEIGHT, text)
    countable = _MENTION.sub(lambda match: "@" + match.group(1), countable)
    return int(grapheme.length(countable))


class _PlainText(HTMLParser):
    """A status's `content` HTML as the text a reader sees (paragraphs and <br> as newlines)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


def _describe(response: httpx.Response) -> str:
    """Mastodon's error body is `{"error": "...", "error_description"?: "..."}`."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(document, dict):
        for key in ("error_description", "error"):
            value = document.get(key)
            if isinstance(value, str) and value:
                return value[:300]
    return str(document)[:300]


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class MastodonAdapter:
    """One adapter for every Mastodon instance: an account's `base_url` is its instance."""

    network: ClassVar[str] = "mastodon"

    def __init__(
        self,
        config: NetworkConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        # One NetworkHttp per instance, so one instance's rate limit is remembered across calls.
        self._http: dict[str, NetworkHttp] = {}

    def _api(self, account: AccountCredentials) -> NetworkHttp:
        base = account.base_url or self._config.api_base_url
        http = self._http.get(base)
        if http is None:
            http = NetworkHttp(
                self.network,
                base,
                timeout_seconds=self._config.timeout_seconds,
                max_wait_seconds=self._config.max_wait_seconds,
                describe=_describe,
                transport=self._transport,
                sleep=self._sleep,
                clock=self._clock,
            )
            self._http[base] = http
        return http

    # --- limits and account ---------------------------------------------------------------------

    def limits(self, account: AccountCredentials) -> NetworkLimits:
        raw = account.settings.get("max_characters", "")
        max_length = int(raw) if raw.isdigit() else DEFAULT_MAX_CHARACTERS
        raw_images = account.settings.get("max_media_attachments", "")
        raw_bytes = account.settings.get("image_size_limit", "")
        return NetworkLimits(
            max_length=max_length,
            measure=mastodon_length,
            max_images=int(raw_images) if raw_images.isdigit() else 4,
            max_image_bytes=int(raw_bytes) if raw_bytes.isdigit() else None,
        )

    async def instance_settings(self, account: AccountCredentials) -> dict[str, str]:
        """The instance's own limits (GET /api/v2/instance, public); 500 characters if it does not say."""
        response = await self._api(account).request("GET", "/api/v2/instance", replay_safe=True)
        configuration = _mapping(_mapping(response.json()).get("configuration"))
        statuses = _mapping(configuration.get("statuses"))
        media = _mapping(configuration.get("media_attachments"))
        settings = {"max_characters": str(DEFAULT_MAX_CHARACTERS)}
        if isinstance(statuses.get("max_characters"), int):
            settings["max_characters"] = str(statuses["max_characters"])
        if isinstance(statuses.get("max_media_attachments"), int):
            settings["max_media_attachments"] = str(statuses["max_media_attachments"])
        if isinstance(media.get("image_size_limit"), int):
            settings["image_size_limit"] = str(media["image_size_limit"])
        return settings

    async def check_account(self, account: AccountCredentials) -> AccountCheck:
        if not account.access_token:
            return AccountCheck(status=ACCOUNT_REVOKED, reason="no access token is stored for this account")
        try:
            response = await self._api(account).request(
                "GET", "/api/v1/accounts/verify_credentials", replay_safe=True, token=account.access_token
            )
            me = _mapping(response.json())
            await self._probe_write_scope(account, account.access_token)
            try:
                settings = await self.instance_settings(account)
            except (NetworkUnavailable, NetworkRejected):
                settings = {"max_characters": str(DEFAULT_MAX_CHARACTERS)}
        except CredentialsRejected as exc:
            return AccountCheck(status=ACCOUNT_EXPIRED if exc.expired else ACCOUNT_REVOKED, reason=str(exc))
        except MissingScopes as exc:
            return AccountCheck(status=ACCOUNT_MISSING_SCOPES, reason=str(exc))
        except (NetworkUnavailable, NetworkRejected) as exc:
            return AccountCheck(status=ACCOUNT_UNREACHABLE, reason=str(exc))
        if isinstance(me.get("username"), str):
            settings["username"] = str(me["username"])
        return AccountCheck(
            status=ACCOUNT_OK,
            account_ref=str(me.get("id")) if me.get("id") is not None else None,
            display_name=str(me.get("display_name") or me.get("username") or "") or None,
            scopes=account.scopes,
            settings=settings,
        )

    async def _probe_write_scope(self, account: AccountCredentials, token: str) -> None:
        """MissingScopes unless the token may post. Mastodon has no token introspection, but it checks
        the scope before the parameters: a status with no text and no media answers 403 without
        `write:statuses` and 422 "Text can't be blank" with it, and creates nothing either way."""
        await self._api(account).request(
            "POST", "/api/v1/statuses", replay_safe=True, token=token, json_body={"status": ""}, ok=(422,)
        )

    # --- posting --------------------------------------------------------------------------------

    async def post(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints
    ) -> PostedRef:
        token = _token(account)
        attempted = _parse_time(await checkpoints.get(CHECKPOINT_ATTEMPTED_AT))
        if attempted is not None:
            # An earlier attempt may have landed more than an hour ago, when the instance has
            # forgotten the Idempotency-Key: look before sending again.
            found = await self.find(account, request, checkpoints, since=attempted)
            if found is not None:
                return found
        else:
            now = datetime.fromtimestamp(self._clock(), UTC)
            await checkpoints.put(CHECKPOINT_ATTEMPTED_AT, now.isoformat())
        media_ids = [await self._upload(account, token, media, checkpoints) for media in request.media]
        body: dict[str, Any] = {"status": request.text}
        if media_ids:
            body["media_ids"] = media_ids
        try:
            # Replay-safe: the instance answers a repeated key with the status it already made.
            response = await self._api(account).request(
                "POST",
                "/api/v1/statuses",
                replay_safe=True,
                token=token,
                headers={"Idempotency-Key": request.idempotency_key},
                json_body=body,
            )
        except RateLimited:
            raise
        except NetworkUnavailable as exc:
            # The retries all went unanswered: one of them may have been taken.
            raise AmbiguousOutcome(str(exc)) from exc
        status = _mapping(response.json())
        await checkpoints.put(CHECKPOINT_STATUS_ID, str(status["id"]))
        return _posted(status)

    async def _upload(
        self, account: AccountCredentials, token: str, media: OutgoingMedia, checkpoints: Checkpoints
    ) -> str:
        """The attachment id for one image, uploaded once per publication (ids kept in checkpoints)."""
        key = CHECKPOINT_MEDIA + media.digest
        stored = await checkpoints.get(key)
        if stored:
            return stored
        api = self._api(account)
        extension = media.media_type.split("/")[-1]
        # A second upload after a lost answer only leaves an unattached file the instance removes.
        response = await api.request(
            "POST",
            "/api/v2/media",
            replay_safe=True,
            token=token,
            files={"file": (f"{media.digest[:16]}.{extension}", media.data, media.media_type)},
        )
        attachment = _mapping(response.json())
        media_id = str(attachment["id"])
        polls = 0
        while not attachment.get("url"):
            # 202 Accepted: still processing; GET answers 206 until the file is ready.
            polls += 1
            if polls > MEDIA_POLLS:
                raise NetworkUnavailable(
                    f"mastodon media {media_id} still processing after {MEDIA_POLLS} polls"
                )
            await self._sleep(MEDIA_POLL_SECONDS)
            response = await api.request("GET", f"/api/v1/media/{media_id}", replay_safe=True, token=token)
            attachment = _mapping(response.json())
        await checkpoints.put(key, media_id)
        return media_id

    async def find(
        self, account: AccountCredentials, request: PostRequest, checkpoints: Checkpoints, *, since: datetime
    ) -> PostedRef | None:
        token = _token(account)
        api = self._api(account)
        stored = await checkpoints.get(CHECKPOINT_STATUS_ID)
        if stored:
            response = await api.request(
                "GET", f"/api/v1/statuses/{stored}", replay_safe=True, token=token, ok=(404,)
            )
            return None if response.status_code == 404 else _posted(_mapping(response.json()))
        account_id = account.account_ref or await self._account_id(account, token)
        floor = (since if since.tzinfo else since.replace(tzinfo=UTC)) - FIND_SKEW
        params: dict[str, Any] = {"limit": 40, "exclude_reblogs": "true"}
        for _ in range(FIND_PAGES):
            response = await api.request(
                "GET", f"/api/v1/accounts/{account_id}/statuses", replay_safe=True, token=token, params=params
            )
            page = [_mapping(item) for item in response.json()]
            for status in page:
                created = _parse_time(status.get("created_at"))
                if created is None or created < floor:
                    continue
                if await self._source_text(api, token, str(status["id"])) == request.text:
                    await checkpoints.put(CHECKPOINT_STATUS_ID, str(status["id"]))
                    return _posted(status)
            oldest = _parse_time(page[-1].get("created_at")) if page else None
            if not page or oldest is None or oldest < floor:
                return None
            params["max_id"] = str(page[-1]["id"])
        return None

    async def _source_text(self, api: NetworkHttp, token: str, status_id: str) -> str | None:
        """The text as written (GET /api/v1/statuses/:id/source): `content` is rendered HTML."""
        response = await api.request(
            "GET", f"/api/v1/statuses/{status_id}/source", replay_safe=True, token=token, ok=(404,)
        )
        if response.status_code == 404:
            return None
        text = _mapping(response.json()).get("text")
        return text if isinstance(text, str) else None

    async def _account_id(self, account: AccountCredentials, token: str) -> str:
        response = await self._api(account).request(
            "GET", "/api/v1/accounts/verify_credentials", replay_safe=True, token=token
        )
        return str(_mapping(response.json())["id"])

    # --- after posting --------------------------------------------------------------------------

    async def delete(self, account: AccountCredentials, external_id: str) -> DeletedRef:
        response = await self._api(account).request(
            "DELETE", f"/api/v1/statuses/{external_id}", replay_safe=True, token=_token(account), ok=(404,)
        )
        return DeletedRef(
            external_id=external_id,
            status_code=response.status_code,
            answer=_describe(response) if response.status_code == 404 else "deleted",
            already_gone=response.status_code == 404,
        )

    async def replies(self, account: AccountCredentials, external_id: str) -> list[Reply]:
        response = await self._api(account).request(
            "GET", f"/api/v1/statuses/{external_id}/context", replay_safe=True, token=_token(account)
        )
        descendants = _mapping(response.json()).get("descendants")
        replies: list[Reply] = []
        for item in descendants if isinstance(descendants, list) else []:
            status = _mapping(item)
            author = _mapping(status.get("account"))
            replies.append(
                Reply(
                    external_id=str(status["id"]),
                    author=str(author.get("acct") or author.get("username") or ""),
                    text=plain_text(str(status.get("content") or "")),
                    created_at=_parse_time(status.get("created_at")),
                    url=str(status["url"]) if status.get("url") else None,
                    in_reply_to=str(status["in_reply_to_id"]) if status.get("in_reply_to_id") else None,
                )
            )
        return replies

    async def comments(
        self, account: AccountCredentials, external_id: str, *, cursor: str | None
    ) -> CommentPage:
        """The thread's replies newer than `cursor`. The context endpoint has no paging: it answers
        every descendant at once, so the cursor is the highest status id read (Mastodon ids are
        snowflakes that grow with time), and a reply is new when its id is higher."""
        seen = int(cursor) if cursor and cursor.isdigit() else -1
        replies = [r for r in await self.replies(account, external_id) if r.external_id.isdigit()]
        new = sorted((r for r in replies if int(r.external_id) > seen), key=lambda r: int(r.external_id))
        return CommentPage(replies=new, cursor=new[-1].external_id if new else cursor, more=False)


def _token(account: AccountCredentials) -> str:
    if not account.access_token:
        raise CredentialsRejected("mastodon: no access token is stored for this account")
    return account.access_token


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _posted(status: Mapping[str, Any]) -> PostedRef:
    evidence = {
        key: status.get(key)
        for key in ("id", "uri", "url", "created_at", "visibility", "content")
        if key in status
    }
    evidence["media_ids"] = [_mapping(m).get("id") for m in status.get("media_attachments") or []]
    return PostedRef(
        external_id=str(status["id"]),
        url=str(status["url"]) if status.get("url") else None,
        evidence=evidence,
    )
