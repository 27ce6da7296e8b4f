"""A local X (API v2): OAuth 2.0 with PKCE, users/me, the simple media upload, posts (tweets), the
user's timeline, recent search by conversation (newest first, `since_id`/`until_id`, `max_results`
10-100, a stable `next_token`), and delete, as a user-context client sees them.

Like X it sends `x-rate-limit-limit/-remaining/-reset` on every answer and 429 when they are spent,
answers errors as problem JSON (`{"title","detail","type","status"}`, `{"errors": [...]}` for invalid
requests), refuses a post whose text a recent one already had (403 duplicate content), counts text
with twitter-text, and shows text as X does: URLs replaced by t.co links (the originals in
`entities.urls`) and `&`, `<`, `>` HTML-escaped. `state.shown(id)` is the text with links expanded.
"""

from __future__ import annotations

import base64
import binascii
import html
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from twitter_text import extract_urls_with_indices, parse_tweet  # type: ignore[import-untyped]

from tests.fakes.networks.fake_kit import FaultPlan, IssuedToken, OAuthRefused, TokenBook, fault_middleware

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
ACCESS_LIFETIME = 7200


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "type": kind, "status": status}, status_code=status
    )


def invalid(message: str, parameter: str) -> JSONResponse:
    return JSONResponse(
        {
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        status_code=400,
    )


@dataclass
class FakeTweet:
    id: str
    author_id: str
    text: str  # as sent
    media_ids: list[str]
    created_at: float
    conversation_id: str
    in_reply_to: str | None = None

    def as_shown(self) -> dict[str, Any]:
        """The tweet as X's API answers it: t.co links, entities, HTML-escaped text."""
        out: list[str] = []
        entities: list[dict[str, Any]] = []
        cursor = 0
        for found in extract_urls_with_indices(self.text):
            start, end = found["indices"]
            out.append(html.escape(self.text[cursor:start], quote=False))
            short = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
            position = sum(len(part) for part in out)
            # X links bare domains too, and reports them with a scheme added.
            expanded = found["url"] if "://" in found["url"] else f"http://{found['url']}"
            entities.append(
                {
                    "start": position,
                    "end": position + len(short),
                    "url": short,
                    "expanded_url": expanded,
                    "display_url": found["url"].split("//", 1)[-1][:26],
                }
            )
            out.append(short)
            cursor = end
        out.append(html.escape(self.text[cursor:], quote=False))
        document: dict[str, Any] = {
            "id": self.id,
            "text": "".join(out),
            "author_id": self.author_id,
            "conversation_id": self.conversation_id,
            "created_at": datetime.fromtimestamp(self.created_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "edit_history_tweet_ids": [self.id],
        }
        if entities:
            document["entities"] = {"urls": entities}
        if self.media_ids:
            document["attachments"] = {"media_keys": [f"3_{m}" for m in self.media_ids]}
        if self.in_reply_to:
            document["referenced_tweets"] = [{"type": "replied_to", "id": self.in_reply_to}]
        return document


@dataclass
class FakeXState:
    tokens: TokenBook
    plan: FaultPlan = field(default_factory=FaultPlan)
    users: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"1500000000000000001": {"username": "clearpostclinic", "name": "Clinic"}}
    )
    tweets: dict[str, FakeTweet] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    media: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # id -> (owner, type, bytes)
    _last_id: int = 0

    def next_id(self) -> str:
        """A snowflake, as X's ids are: the time in milliseconds since X's epoch, shifted left 22
        bits, so ids grow with time (and say when they were made)."""
        self._last_id = max(self._last_id + 1, snowflake(time.time()))
        return str(self._last_id)

    @property
    def me(self) -> str:
        return self.tokens.subject

    def shown(self, tweet_id: str) -> str:
        document = self.tweets[tweet_id].as_shown()
        text = str(document["text"])
        for entity in document.get("entities", {}).get("urls", []):
            text = text.replace(entity["url"], entity["expanded_url"])
        return html.unescape(text)

    def reply(self, to: str, author: str, text: str) -> str:
        """Someone else answers `to` (a tweet of the account)."""
        user_id = self.next_id()
        self.users[user_id] = {"username": author, "name": author.title()}
        tweet = FakeTweet(self.next_id(), user_id, text, [], time.time(), self.tweets[to].conversation_id, to)
        self.tweets[tweet.id] = tweet
        return tweet.id

    def own_tweets(self) -> list[FakeTweet]:
        return [t for t in self.tweets.values() if t.author_id == self.me]

    def grant(self, scopes: tuple[str, ...] = SCOPES) -> IssuedToken:
        return self.tokens.issue(self.me, scopes, next(iter(self.tokens.clients)))


SNOWFLAKE_EPOCH_MS = 1_288_834_974_657
SEARCH_REACH_SECONDS = 7 * 24 * 3600


def snowflake(moment: float) -> int:
    return (int(moment * 1000) - SNOWFLAKE_EPOCH_MS) << 22


def rate_headers(plan: FaultPlan) -> dict[str, str]:
    remaining = plan.limit if plan.remaining is None else max(plan.remaining, 0)
    return {
        "x-rate-limit-limit": str(plan.limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(time.time() + plan.reset_after_seconds)),
    }


def create_app(*, client_id: str = "x-client", client_secret: str = "x-secret") -> FastAPI:
    app = FastAPI()
    state = FakeXState(
        tokens=TokenBook(
            clients={client_id: client_secret},
            allowed_scopes=SCOPES,
            subject="1500000000000000001",
            access_lifetime=ACCESS_LIFETIME,
            rotate_refresh=True,
        )
    )
    app.state.fake = state
    fault_middleware(
        app,
        state.plan,
        rate_headers=rate_headers,
        error_body=lambda status, message: {
            "title": message,
            "detail": message,
            "type": "about:blank",
            "status": status,
        },
        exempt=("/i/oauth2/", "/2/oauth2/"),
    )

    def authorized(request: Request, *scopes: str) -> IssuedToken | JSONResponse:
        token = state.tokens.lookup(request.headers.get("authorization"))
        if token is None or token.revoked or token.expired:
            return problem(401, "Unauthorized", "Unauthorized")
        if any(scope not in token.scopes for scope in scopes):
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        return token

    # --- OAuth ---------------------------------------------------------------------------------

    @app.get("/i/oauth2/authorize")
    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            code = state.tokens.authorize(params)
        except OAuthRefused as refused:
            return JSONResponse({"error": refused.error, "error_description": refused.description}, 400)
        query = {"state": params.get("state", ""), "code": code}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

    @app.post("/2/oauth2/token")
    async def token(
        request: Request,
        grant_type: str = Form(""),
        code: str = Form(""),
        redirect_uri: str = Form(""),
        code_verifier: str = Form(""),
        refresh_token: str = Form(""),
    ) -> JSONResponse:
        try:
            client = state.tokens.client(*basic_credentials(request.headers.get("authorization")))
            if grant_type == "authorization_code":
                issued = state.tokens.redeem(client, code, code_verifier, redirect_uri)
            elif grant_type == "refresh_token":
                issued = state.tokens.refresh(client, refresh_token)
            else:
                raise OAuthRefused("unsupported_grant_type", f"grant_type {grant_type!r}")
        except OAuthRefused as refused:
            body = {"error": refused.error, "error_description": refused.description}
            return JSONResponse(body, status_code=refused.status)
        answer: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": ACCESS_LIFETIME,
            "access_token": issued.access_token,
            "scope": " ".join(issued.scopes),
        }
        if "offline.access" in issued.scopes:
            answer["refresh_token"] = issued.refresh_token
        return JSONResponse(answer)

    # --- users and media -------------------------------------------------------------------------

    @app.get("/2/users/me")
    async def me(request: Request) -> Response:
        token = authorized(request, "users.read", "tweet.read")
        if isinstance(token, Response):
            return token
        return JSONResponse({"data": {"id": token.subject, **state.users[token.subject]}})

    @app.post("/2/media/upload")
    async def upload(request: Request) -> Response:
        token = authorized(request, "media.write")
        if isinstance(token, Response):
            return token
        body = await request.json()
        if body.get("media_category") != "tweet_image":
            return invalid("media_category must be tweet_image", "media_category")
        try:
            data = base64.b64decode(str(body.get("media", "")), validate=True)
        except binascii.Error:
            return invalid("media must be base64", "media")
        if not data:
            return invalid("media is required", "media")
        media_id = state.next_id()
        state.media[media_id] = (token.subject, str(body.get("media_type", "")), data)
        return JSONResponse(
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(data),
                    "expires_after_secs": 86400,
                    "image": {"image_type": body.get("media_type", ""), "w": 1, "h": 1},
                }
            }
        )

    # --- posts -----------------------------------------------------------------------------------

    @app.post("/2/tweets")
    async def create(request: Request) -> Response:
        token = authorized(request, "tweet.write", "tweet.read", "users.read")
        if isinstance(token, Response):
            return token
        body = await request.json()
        text = str(body.get("text", ""))
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids", [])]
        if not text and not media_ids:
            return invalid("text or media is required", "text")
        if parse_tweet(text).weightedLength > 280:
            return problem(
                403,
                "Forbidden",
                "Your Tweet text is too long. For more information on how X "
                "determines text length see https://github.com/twitter/twitter-text.",
            )
        if len(media_ids) > 4 or any(state.media.get(m, ("",))[0] != token.subject for m in media_ids):
            return invalid("media_ids must be 1 to 4 uploaded media of the user", "media.media_ids")
        if any(t.text == text and t.author_id == token.subject for t in state.tweets.values()):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tweet_id = state.next_id()
        tweet = FakeTweet(tweet_id, token.subject, text, media_ids, time.time(), tweet_id)
        state.tweets[tweet_id] = tweet
        shown = tweet.as_shown()
        return JSONResponse(
            {"data": {"id": tweet_id, "text": shown["text"], "edit_history_tweet_ids": [tweet_id]}},
            status_code=201,
        )

    @app.get("/2/users/{user_id}/tweets")
    async def timeline(user_id: str, request: Request) -> Response:
        token = authorized(request, "tweet.read", "users.read")
        if isinstance(token, Response):
            return token
        query = request.query_params
        start = query.get("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() if start else 0.0
        limit = int(query.get("max_results", "10"))
        if not 5 <= limit <= 100:
            return invalid("max_results must be between 5 and 100", "max_results")
        found = sorted(
            (t for t in state.tweets.values() if t.author_id == user_id and t.created_at >= since),
            key=lambda t: t.created_at,
            reverse=True,
        )[:limit]
        if not found:
            return JSONResponse({"meta": {"result_count": 0}})
        return JSONResponse(
            {
                "data": [t.as_shown() for t in found],
                "meta": {"result_count": len(found), "newest_id": found[0].id, "oldest_id": found[-1].id},
            }
        )

    @app.delete("/2/tweets/{tweet_id}")
    async def delete(tweet_id: str, request: Request) -> Response:
        token = authorized(request, "tweet.write", "tweet.read", "users.read")
        if isinstance(token, Response):
            return token
        tweet = state.tweets.get(tweet_id)
        if tweet is None:
            return problem(
                404,
                "Not Found Error",
                f"Could not find tweet with id: [{tweet_id}].",
                "https://api.twitter.com/2/problems/resource-not-found",
            )
        if tweet.author_id != token.subject:
            return problem(403, "Forbidden", "You are not allowed to delete a Tweet that is not yours.")
        del state.tweets[tweet_id]
        state.deleted.append(tweet_id)
        return JSONResponse({"data": {"deleted": True}})

    @app.get("/2/tweets/search/recent")
    async def search(request: Request) -> Response:
        token = authorized(request, "tweet.read", "users.read")
        if isinstance(token, Response):
            return token
        query = request.query_params.get("query", "")
        if not query.startswith("conversation_id:"):
            return invalid("this fake searches by conversation_id only", "query")
        conversation = query.removeprefix("conversation_id:")
        params = request.query_params
        limit = int(params.get("max_results", "10"))
        if not 10 <= limit <= 100:
            return invalid("max_results must be between 10 and 100", "max_results")
        since, until = int(params.get("since_id") or 0), int(params.get("until_id") or 0)
        oldest = snowflake(time.time() - SEARCH_REACH_SECONDS)
        for name, value in (("since_id", since), ("until_id", until)):
            if value and value < oldest:
                # As X does: an id from before recent search's seven days is an invalid request.
                return invalid(f"Invalid '{name}': must be a tweet ID created within the last 7 days", name)
        # Like X: newest first within a page and across pages; `next_token` is stable (it names
        # where the page ended, so new replies do not shift later pages).
        token_at = params.get("next_token")
        below = int(token_at.removeprefix("t")) if token_at else 0
        found = sorted(
            (
                t
                for t in state.tweets.values()
                if t.conversation_id == conversation
                and int(t.id) > since
                and (not until or int(t.id) < until)
                and (not below or int(t.id) < below)
            ),
            key=lambda t: int(t.id),
            reverse=True,
        )
        page, rest = found[:limit], found[limit:]
        if not page:
            return JSONResponse({"meta": {"result_count": 0}})
        authors = {t.author_id for t in page}
        meta: dict[str, Any] = {"result_count": len(page), "newest_id": page[0].id, "oldest_id": page[-1].id}
        if rest:
            meta["next_token"] = f"t{page[-1].id}"
        return JSONResponse(
            {
                "data": [t.as_shown() for t in page],
                "includes": {"users": [{"id": a, **state.users[a]} for a in sorted(authors)]},
                "meta": meta,
            }
        )

    return app


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    """client_id and client_secret from HTTP Basic client authentication (confidential clients)."""
    if not header or not header.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
