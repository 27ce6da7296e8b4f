"""A local Mastodon instance for adapter tests: the few REST methods Clearpost uses, as documented.

Paths, payloads and error bodies follow docs.joinmastodon.org: `{"error": "..."}` bodies, Doorkeeper's
401 messages ("The access token expired" / "was revoked" / "is invalid"), 403 "This action is
outside the authorized scopes", 404 "Record not found", 422 "Validation failed: ...", 429 "Too many
requests", `X-RateLimit-Limit/-Remaining/-Reset` (ISO 8601) on every answer, `Idempotency-Key` on
status creation, and v2 media uploads that answer 202 while "processing".

Test knobs live on `app.state.fake` (a `FakeMastodon`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import grapheme  # type: ignore[import-untyped]
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

WRITE_SCOPES = ("write", "write:statuses")
MEDIA_SCOPES = ("write", "write:media")
READ_SCOPES = ("read", "read:statuses", "read:accounts")


@dataclass
class FakeToken:
    account_id: str
    scopes: tuple[str, ...] = ("read", "write")
    state: str = "ok"  # ok | expired | revoked


@dataclass
class FakeStatus:
    id: str
    account_id: str
    text: str
    created_at: datetime
    media_ids: list[str] = field(default_factory=list)
    in_reply_to_id: str | None = None
    idempotency_key: str | None = None


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: {"error": "We're sorry, but something went wrong"})


class FakeMastodon:
    """What the fake instance holds, and the knobs tests turn."""

    def __init__(self, *, domain: str, max_characters: int, clock: Callable[[], float]) -> None:
        self.domain = domain
        self.app: FastAPI | None = None  # the app serving this state, for tests that build it first
        self.max_characters = max_characters
        self.clock = clock
        self.accounts: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, FakeToken] = {}
        self.statuses: dict[str, FakeStatus] = {}
        self.deleted: list[str] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.failures: dict[str, list[Failure]] = {}
        self.hangs: dict[str, list[float]] = {}
        self.media_processing_polls = 0
        self.rate_limit = 300
        self.rate_remaining = 300
        self.rate_reset_at = clock() + 300
        self._next_id = 110_000_000_000_000_000

    # --- knobs ----------------------------------------------------------------------------------

    def add_account(self, username: str, token: str, *, scopes: tuple[str, ...] = ("read", "write")) -> str:
        account_id = self.new_id()
        self.accounts[account_id] = {"id": account_id, "username": username, "display_name": username.title()}
        self.tokens[token] = FakeToken(account_id=account_id, scopes=scopes)
        return account_id

    def fail_next(
        self, path: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """The next `times` requests to `path` answer `status` without acting."""
        body = {"error": "Too many requests"} if status == 429 else {"error": f"HTTP {status}"}
        self.failures.setdefault(path, []).extend(
            Failure(status, dict(headers or {}), body) for _ in range(times)
        )

    def hang_next(self, path: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` requests to `path` are acted on, then answered only after `seconds`."""
        self.hangs.setdefault(path, []).extend([seconds] * times)

    def expire(self, token: str) -> None:
        self.tokens[token].state = "expired"

    def revoke(self, token: str) -> None:
        self.tokens[token].state = "revoked"

    def set_rate_limit(self, remaining: int, *, reset_in: float) -> None:
        """`remaining` requests left until `reset_in` seconds from now (by the fake's clock)."""
        self.rate_remaining = remaining
        self.rate_reset_at = self.clock() + reset_in

    def forget_idempotency_keys(self) -> None:
        """What the instance does an hour after a key was used."""
        self.idempotency.clear()

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def live_statuses(self, account_id: str | None = None) -> list[FakeStatus]:
        return [s for s in self.statuses.values() if account_id is None or s.account_id == account_id]

    # --- rendering ------------------------------------------------------------------------------

    def rate_headers(self) -> dict[str, str]:
        reset = datetime.fromtimestamp(self.rate_reset_at, UTC).isoformat(timespec="milliseconds")
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_remaining, 0)),
            "X-RateLimit-Reset": reset.replace("+00:00", "Z"),
        }

    def account_json(self, account_id: str) -> dict[str, Any]:
        account = self.accounts[account_id]
        return {
            **account,
            "acct": account["username"],
            "url": f"https://{self.domain}/@{account['username']}",
        }

    def status_json(self, status: FakeStatus) -> dict[str, Any]:
        username = self.accounts[status.account_id]["username"]
        paragraphs = "".join(
            f"<p>{escape(p).replace(chr(10), '<br />')}</p>" for p in status.text.split("\n\n")
        )
        return {
            "id": status.id,
            "created_at": status.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": status.in_reply_to_id,
            "visibility": "public",
            "uri": f"https://{self.domain}/users/{username}/statuses/{status.id}",
            "url": f"https://{self.domain}/@{username}/{status.id}",
            "content": paragraphs,
            "account": self.account_json(status.account_id),
            "media_attachments": [_public(self.media[m]) for m in status.media_ids],
        }


def _error(
    status: int, message: str, fake: FakeMastodon, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=status, headers={**fake.rate_headers(), **(headers or {})}
    )


def create_app(
    *, domain: str = "mastodon.example", max_characters: int = 500, clock: Callable[[], float] = time.time
) -> FastAPI:
    app = FastAPI()
    fake = FakeMastodon(domain=domain, max_characters=max_characters, clock=clock)
    app.state.fake = fake

    @app.middleware("http")
    async def around(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        fake.requests.append((request.method, path, dict(request.headers)))
        pending = fake.failures.get(path)
        if pending:
            failure = pending.pop(0)
            return JSONResponse(
                failure.body, status_code=failure.status, headers={**fake.rate_headers(), **failure.headers}
            )
        if fake.clock() >= fake.rate_reset_at:
            fake.rate_remaining = fake.rate_limit
            fake.rate_reset_at = fake.clock() + 300
        if fake.rate_remaining <= 0:
            return _error(429, "Too many requests", fake)
        fake.rate_remaining -= 1
        response = await call_next(request)
        hangs = fake.hangs.get(path)
        if hangs:
            await asyncio.sleep(hangs.pop(0))
        for name, value in fake.rate_headers().items():
            response.headers[name] = value
        return response

    def authorize(request: Request, scopes: tuple[str, ...]) -> str | JSONResponse:
        header = request.headers.get("authorization", "")
        token = fake.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if token is None:
            return _error(401, "The access token is invalid", fake)
        if token.state == "expired":
            return _error(401, "The access token expired", fake)
        if token.state == "revoked":
            return _error(401, "The access token was revoked", fake)
        if scopes and not set(scopes) & set(token.scopes):
            return _error(403, "This action is outside the authorized scopes", fake)
        return token.account_id

    @app.get("/api/v2/instance")
    async def instance() -> dict[str, Any]:
        return {
            "domain": fake.domain,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "configuration": {
                "urls": {"streaming": f"wss://{fake.domain}"},
                "statuses": {
                    "max_characters": fake.max_characters,
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": 23,
                },
                "media_attachments": {"image_size_limit": 16_777_216, "supported_mime_types": ["image/png"]},
            },
        }

    @app.get("/api/v1/accounts/verify_credentials", response_model=None)
    async def verify_credentials(request: Request) -> Any:
        who = authorize(request, ("read", "read:accounts", "profile"))
        if isinstance(who, JSONResponse):
            return who
        return {**fake.account_json(who), "source": {"privacy": "public", "note": ""}}

    @app.post("/api/v1/statuses", response_model=None)
    async def create_status(request: Request) -> Any:
        who = authorize(request, WRITE_SCOPES)
        if isinstance(who, JSONResponse):
            return who
        key = request.headers.get("idempotency-key")
        if key and (who, key) in fake.idempotency:
            return fake.status_json(fake.statuses[fake.idempotency[(who, key)]])
        body = await request.json()
        text = str(body.get("status") or "")
        media_ids = [str(m) for m in body.get("media_ids") or []]
        if not text and not media_ids:
            return _error(422, "Validation failed: Text can't be blank", fake)
        if _length(text) > fake.max_characters:
            return _error(
                422, f"Validation failed: Text character limit of {fake.max_characters} exceeded", fake
            )
        if len(media_ids) > 4 or any(m not in fake.media for m in media_ids):
            return _error(422, "Validation failed: Media attachments are invalid", fake)
        status = FakeStatus(
            id=fake.new_id(),
            account_id=who,
            text=text,
            created_at=datetime.fromtimestamp(fake.clock(), UTC),
            media_ids=media_ids,
            in_reply_to_id=str(body["in_reply_to_id"]) if body.get("in_reply_to_id") else None,
            idempotency_key=key,
        )
        fake.statuses[status.id] = status
        if key:
            fake.idempotency[(who, key)] = status.id
        return fake.status_json(status)

    def visible(status_id: str) -> FakeStatus | None:
        return fake.statuses.get(status_id)

    @app.get("/api/v1/statuses/{status_id}", response_model=None)
    async def get_status(status_id: str, request: Request) -> Any:
        who = authorize(request, ())
        if isinstance(who, JSONResponse):
            return who
        status = visible(status_id)
        return fake.status_json(status) if status else _error(404, "Record not found", fake)

    @app.get("/api/v1/statuses/{status_id}/source", response_model=None)
    async def status_source(status_id: str, request: Request) -> Any:
        who = authorize(request, READ_SCOPES)
        if isinstance(who, JSONResponse):
            return who
        status = visible(status_id)
        if status is None:
            return _error(404, "Record not found", fake)
        return {"id": status.id, "text": status.text, "spoiler_text": ""}

    @app.get("/api/v1/statuses/{status_id}/context", response_model=None)
    async def context(status_id: str, request: Request) -> Any:
        who = authorize(request, ())
        if isinstance(who, JSONResponse):
            return who
        if visible(status_id) is None:
            return _error(404, "Record not found", fake)
        descendants: list[FakeStatus] = []
        frontier = [status_id]
        while frontier:
            parent = frontier.pop(0)
            children = sorted(
                (s for s in fake.statuses.values() if s.in_reply_to_id == parent), key=lambda s: s.id
            )
            descendants.extend(children)
            frontier.extend(c.id for c in children)
        return {"ancestors": [], "descendants": [fake.status_json(s) for s in descendants]}

    @app.delete("/api/v1/statuses/{status_id}", response_model=None)
    async def delete_status(status_id: str, request: Request) -> Any:
        who = authorize(request, WRITE_SCOPES)
        if isinstance(who, JSONResponse):
            return who
        status = visible(status_id)
        if status is None or status.account_id != who:
            return _error(404, "Record not found", fake)
        answer = {**fake.status_json(status), "text": status.text}
        del fake.statuses[status_id]
        fake.deleted.append(status_id)
        return answer

    @app.get("/api/v1/accounts/{account_id}/statuses", response_model=None)
    async def account_statuses(account_id: str, request: Request) -> Any:
        who = authorize(request, ())
        if isinstance(who, JSONResponse):
            return who
        if account_id not in fake.accounts:
            return _error(404, "Record not found", fake)
        limit = min(int(request.query_params.get("limit", "20")), 40)
        max_id = request.query_params.get("max_id")
        mine = sorted(fake.live_statuses(account_id), key=lambda s: int(s.id), reverse=True)
        if max_id:
            mine = [s for s in mine if int(s.id) < int(max_id)]
        return [fake.status_json(s) for s in mine[:limit]]

    @app.post("/api/v2/media", response_model=None)
    async def upload_media(request: Request) -> Any:
        who = authorize(request, MEDIA_SCOPES)
        if isinstance(who, JSONResponse):
            return who
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return _error(422, "Validation failed: File can't be blank", fake)
        data = await upload.read()
        media_id = fake.new_id()
        processing = fake.media_processing_polls > 0
        attachment = {
            "id": media_id,
            "type": "image",
            "url": None if processing else f"https://files.{fake.domain}/media/{media_id}.png",
            "preview_url": f"https://files.{fake.domain}/media/{media_id}_small.png",
            "description": form.get("description") or None,
            "meta": {"size_bytes": len(data), "mime": upload.content_type},
            "_polls_left": fake.media_processing_polls,
        }
        fake.media[media_id] = attachment
        return JSONResponse(_public(attachment), status_code=202 if processing else 200)

    @app.get("/api/v1/media/{media_id}", response_model=None)
    async def get_media(media_id: str, request: Request) -> Any:
        who = authorize(request, MEDIA_SCOPES)
        if isinstance(who, JSONResponse):
            return who
        attachment = fake.media.get(media_id)
        if attachment is None:
            return _error(404, "Record not found", fake)
        if attachment["_polls_left"] > 0:
            attachment["_polls_left"] -= 1
            if attachment["_polls_left"] > 0:
                return JSONResponse(_public(attachment), status_code=206)
            attachment["url"] = f"https://files.{fake.domain}/media/{media_id}.png"
        return _public(attachment)

    return app


def _public(attachment: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attachment.items() if not key.startswith("_")}


def _length(text: str) -> int:
    """Mastodon's count, written independently of the adapter's: URLs weigh 23, `@u@domain` is `@u`."""
    text = re.sub(r"https?://\S+", "x" * 23, text)
    text = re.sub(r"(@\w+)@[\w.-]+\w", r"\1", text)
    return int(grapheme.length(text))
