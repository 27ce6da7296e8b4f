"""Reading a post's replies on X for the ingest (API v2 recent search by conversation).

`GET /2/tweets/search/recent?query=conversation_id:{id}` finds every reply in the post's
conversation (replies to replies too) from the last seven days. X documents the answer as newest
first, within a page and across the pages `next_token` leads to, and ids that grow with time; so
the cursor is the highest id handed over, asked for again as `since_id`. Every page since then is
read before anything is handed over, so the oldest come first. When there are more pages than one
call reads, the cursor notes the oldest id seen (`since|until`) and the next call searches below
it (`until_id`), until the oldest part fits in one call: those go out, and the search moves up.

Recent search refuses a `since_id` or `until_id` older than its seven days (400). Post ids are
snowflakes that carry their time, so a cursor that old is not sent: `since` is then applied here
(everything search still sees is newer), and below an `until` that old there is nothing to find.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx

from services.publisher.networks.base import AccountCredentials, CommentPage, Reply

SEARCH = "/2/tweets/search/recent"
TWEET_FIELDS = "created_at,author_id,in_reply_to_user_id,conversation_id,referenced_tweets,entities"
PAGE_SIZE = 100  # X's maximum for recent search
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657  # X's ids: milliseconds since this, shifted left 22 bits
# How far back recent search reaches (seven days), less an hour so a cursor near the edge is not sent.
SEARCH_REACH_SECONDS = 7 * 24 * 3600 - 3600
MAX_PAGES = 10  # per call; older replies are reached by narrowing with until_id

Call = Callable[..., Awaitable[httpx.Response]]


def original_text(tweet: Mapping[str, Any]) -> str:
    """A tweet's text as it was sent, as near as X lets us: t.co links back to what they point at."""
    text = str(tweet.get("text", ""))
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        if entity.get("url") and entity.get("expanded_url"):
            text = text.replace(str(entity["url"]), str(entity["expanded_url"]))
    return html.unescape(text)


def reply_of(tweet: Mapping[str, Any], users: Mapping[str, str], external_id: str) -> Reply:
    """One reply found by search, its author's handle from the `author_id` expansion."""
    author = users.get(str(tweet.get("author_id")), str(tweet.get("author_id", "")))
    parent = next(
        (str(r["id"]) for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"),
        external_id,
    )
    created = tweet.get("created_at")
    return Reply(
        external_id=str(tweet["id"]),
        author=author,
        text=original_text(tweet),
        created_at=datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None,
        url=f"https://x.com/{author}/status/{tweet['id']}",
        in_reply_to=parent,
    )


def users_of(document: Mapping[str, Any]) -> dict[str, str]:
    includes = document.get("includes") or {}
    return {str(u["id"]): str(u.get("username", "")) for u in includes.get("users", []) if u.get("id")}


def snowflake_time(post_id: int) -> float:
    """When X made the post with this id (Unix seconds)."""
    return ((post_id >> 22) + SNOWFLAKE_EPOCH_MS) / 1000


def _bounds(cursor: str | None) -> tuple[int | None, int | None]:
    since, _, until = (cursor or "").partition("|")
    return (int(since) if since.isdigit() else None), (int(until) if until.isdigit() else None)


class XComments:
    def __init__(self, call: Call, clock: Callable[[], float]) -> None:
        self._call = call  # the adapter's authenticated call (its 401 mapping included)
        self._clock = clock

    async def page(self, account: AccountCredentials, external_id: str, *, cursor: str | None) -> CommentPage:
        since, until = _bounds(cursor)
        reach = self._clock() - SEARCH_REACH_SECONDS
        if until is not None and snowflake_time(until) < reach:
            # Search sees nothing that old: the window below `until` is empty; move up to it.
            return CommentPage(replies=[], cursor=str(until - 1), more=True)
        params: dict[str, str | int] = {
            "query": f"conversation_id:{external_id}",
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username",
            "max_results": PAGE_SIZE,
        }
        if since is not None and snowflake_time(since) >= reach:
            params["since_id"] = str(since)
        if until is not None:
            params["until_id"] = str(until)
        tweets: list[Mapping[str, Any]] = []
        users: dict[str, str] = {}
        for _page in range(MAX_PAGES):
            response = await self._call("GET", SEARCH, account, replay_safe=True, params=params)
            document = response.json()
            tweets.extend(t for t in document.get("data") or [] if isinstance(t, dict) and t.get("id"))
            users.update(users_of(document))
            next_token = (document.get("meta") or {}).get("next_token")
            if not next_token:
                break
            params["next_token"] = str(next_token)
        else:
            # More than one call reads: look below the oldest seen first, hand nothing over yet.
            oldest = min(int(t["id"]) for t in tweets)
            return CommentPage(replies=[], cursor=f"{'' if since is None else since}|{oldest}", more=True)
        found = sorted(
            (t for t in tweets if str(t["id"]) != external_id and (since is None or int(t["id"]) > since)),
            key=lambda t: int(t["id"]),
        )
        replies = [reply_of(t, users, external_id) for t in found]
        if replies:
            top: int | None = int(replies[-1].external_id)
        elif until is not None:
            top = until - 1  # nothing between since and until: the search moves up to until
        else:
            top = since
        return CommentPage(replies=replies, cursor=None if top is None else str(top), more=until is not None)
