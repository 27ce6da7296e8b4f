"""A minimal PDS for adapter tests: exactly the XRPC methods Clearpost calls, with real error bodies.

Methods: com.atproto.server.createSession / refreshSession, com.atproto.identity.resolveHandle,
com.atproto.repo.createRecord / getRecord / deleteRecord / uploadBlob, app.bsky.feed.getPostThread.
Errors are `{"error": "Name", "message": "..."}` as the reference PDS answers: 401
AuthenticationRequired for a wrong app password or a missing/revoked token, 400 ExpiredToken for an
expired JWT, 400 RecordNotFound, 400 InvalidRequest for a bad record, 500 InternalServerError for a
record key that is taken (what the PDS serves today; bluesky-social/atproto PR 4728 would name it),
429 RateLimitExceeded. Every answer carries ratelimit-limit/-remaining/-reset (Unix seconds)/-policy.

getPostThread answers each post's `indexedAt` (when the AppView saw it: `fake.reply` sets it, and
what the record claims as `createdAt` may differ) and the reply tree to `depth`.

Tokens are opaque strings here (a real PDS issues JWTs; clients must not look inside either way).
Test knobs live on `app.state.fake` (a `FakePds`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grapheme  # type: ignore[import-untyped]
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
POST = "app.bsky.feed.post"


@dataclass
class FakeAccount:
    did: str
    handle: str
    app_password: str | None


@dataclass
class FakeJwt:
    did: str
    kind: str  # access | refresh
    state: str = "ok"  # ok | expired | revoked | used


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)


class FakePds:
    def __init__(self, *, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.app: FastAPI | None = None
        self.accounts: dict[str, FakeAccount] = {}  # by DID
        self.jwts: dict[str, FakeJwt] = {}
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}  # (did, collection, rkey) -> value
        # When the AppView indexed each post (its `indexedAt`); the record's createdAt where unset.
        self.indexed: dict[tuple[str, str, str], str] = {}
        self.deleted: list[str] = []
        self.blobs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.failures: dict[str, list[Failure]] = {}
        self.hangs: dict[str, list[float]] = {}
        self.sessions_created = 0
        self.refreshes = 0
        self.rate_limit = 3000
        self.rate_remaining = 3000
        self.rate_reset_at = clock() + 300
        self._serial = 0

    # --- knobs ----------------------------------------------------------------------------------

    def add_account(self, handle: str, app_password: str | None = None) -> str:
        did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        self.accounts[did] = FakeAccount(did=did, handle=handle, app_password=app_password)
        return did

    def issue(self, did: str) -> tuple[str, str]:
        """A new session's (access, refresh) tokens, as createSession would hand out."""
        self._serial += 1
        access, refresh = f"access-{self._serial}-{did[-6:]}", f"refresh-{self._serial}-{did[-6:]}"
        self.jwts[access] = FakeJwt(did, "access")
        self.jwts[refresh] = FakeJwt(did, "refresh")
        return access, refresh

    def expire(self, token: str) -> None:
        self.jwts[token].state = "expired"

    def expire_all(self) -> None:
        for jwt in self.jwts.values():
            jwt.state = "expired"

    def revoke_app_password(self, did: str) -> None:
        """What deleting the app password in Settings does: it and its sessions stop working."""
        self.accounts[did].app_password = None
        for jwt in self.jwts.values():
            if jwt.did == did:
                jwt.state = "revoked"

    def fail_next(
        self, nsid: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        name = {429: "RateLimitExceeded", 403: "Forbidden"}.get(status, "InternalServerError")
        message = {429: "Rate Limit Exceeded", 403: "Forbidden"}.get(status, "Internal Server Error")
        failures = self.failures.setdefault(f"/xrpc/{nsid}", [])
        failures.extend(
            Failure(status, dict(headers or {}), {"error": name, "message": message}) for _ in range(times)
        )

    def hang_next(self, nsid: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls are acted on, then answered only after `seconds`."""
        self.hangs.setdefault(f"/xrpc/{nsid}", []).extend([seconds] * times)

    def set_rate_limit(self, remaining: int, *, reset_in: float) -> None:
        self.rate_remaining = remaining
        self.rate_reset_at = self.clock() + reset_in

    def reply(
        self,
        parent_uri: str,
        did: str,
        text: str,
        *,
        created_at: str | None = None,
        indexed_at: float | None = None,
    ) -> str:
        """`did` replies to the post `parent_uri` (in the thread of that post's root); `indexed_at`
        (Unix seconds, default now) is when the AppView shows it, `created_at` what the record claims."""
        self._serial += 1
        rkey = f"3lrep{self._serial:08d}"
        parent_key = tuple(parent_uri.removeprefix("at://").split("/"))
        parent_record = self.records[(parent_key[0], parent_key[1], parent_key[2])]
        parent = {"uri": parent_uri, "cid": _cid(parent_uri)}
        root = (parent_record.get("reply") or {}).get("root") or parent
        moment = self.clock() if indexed_at is None else indexed_at
        shown = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.records[(did, POST, rkey)] = {
            "$type": POST,
            "text": text,
            "createdAt": created_at or shown,
            "reply": {"root": root, "parent": parent},
        }
        self.indexed[(did, POST, rkey)] = shown
        return f"at://{did}/{POST}/{rkey}"

    def posts(self, did: str | None = None) -> dict[str, dict[str, Any]]:
        """The account's posts by record key."""
        return {k[2]: v for k, v in self.records.items() if k[1] == POST and (did is None or k[0] == did)}

    def rate_headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.rate_limit),
            "ratelimit-remaining": str(max(self.rate_remaining, 0)),
            "ratelimit-reset": str(int(self.rate_reset_at)),
            "ratelimit-policy": f"{self.rate_limit};w=300",
        }


def create_app(*, clock: Callable[[], float] = time.time) -> FastAPI:
    app = FastAPI()
    fake = FakePds(clock=clock)
    fake.app = app
    app.state.fake = fake

    def error(status: int, name: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"error": name, "message": message}, status_code=status, headers=fake.rate_headers()
        )

    @app.middleware("http")
    async def around(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        fake.requests.append((request.method, path))
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
            return error(429, "RateLimitExceeded", "Rate Limit Exceeded")
        fake.rate_remaining -= 1
        response = await call_next(request)
        hangs = fake.hangs.get(path)
        if hangs:
            await asyncio.sleep(hangs.pop(0))
        for name, value in fake.rate_headers().items():
            response.headers[name] = value
        return response

    def bearer(request: Request, kind: str = "access") -> FakeJwt | JSONResponse:
        header = request.headers.get("authorization", "")
        jwt = fake.jwts.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if jwt is None or jwt.kind != kind:
            return error(401, "AuthenticationRequired", "Authentication Required")
        if jwt.state == "expired":
            return error(400, "ExpiredToken", "Token has expired")
        if jwt.state in ("revoked", "used"):
            return error(401, "AuthenticationRequired", "Token has been revoked")
        return jwt

    def session_json(did: str) -> dict[str, Any]:
        access, refresh = fake.issue(did)
        account = fake.accounts[did]
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": did,
            "handle": account.handle,
            "active": True,
        }

    @app.post("/xrpc/com.atproto.server.createSession", response_model=None)
    async def create_session(request: Request) -> Any:
        body = await request.json()
        identifier, password = str(body.get("identifier") or ""), body.get("password")
        account = next((a for a in fake.accounts.values() if identifier in (a.handle, a.did)), None)
        if account is None or account.app_password is None or password != account.app_password:
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
        fake.sessions_created += 1
        return session_json(account.did)

    @app.post("/xrpc/com.atproto.server.refreshSession", response_model=None)
    async def refresh_session(request: Request) -> Any:
        jwt = bearer(request, "refresh")
        if isinstance(jwt, JSONResponse):
            return jwt
        jwt.state = "used"  # refresh tokens rotate
        fake.refreshes += 1
        return session_json(jwt.did)

    @app.get("/xrpc/com.atproto.identity.resolveHandle", response_model=None)
    async def resolve_handle(handle: str) -> Any:
        account = next((a for a in fake.accounts.values() if a.handle == handle.lower()), None)
        if account is None:
            return error(400, "InvalidRequest", "Unable to resolve handle")
        return {"did": account.did}

    def valid_record(did: str, record: Any) -> str | None:
        if not isinstance(record, dict) or record.get("$type") != POST:
            return "Invalid app.bsky.feed.post record: $type"
        text = record.get("text")
        if not isinstance(text, str) or grapheme.length(text) > 300 or len(text.encode()) > 3000:
            return "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
        if not isinstance(record.get("createdAt"), str):
            return 'Invalid app.bsky.feed.post record: Record must have the property "createdAt"'
        size = len(text.encode())
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= size:
                return "Invalid app.bsky.feed.post record: Record/facets/index out of range"
        embed = record.get("embed")
        if embed is not None:
            images = embed.get("images") if embed.get("$type") == "app.bsky.embed.images" else None
            if not isinstance(images, list) or not 1 <= len(images) <= 4:
                return "Invalid app.bsky.feed.post record: Record/embed/images must have 1-4 elements"
            for image in images:
                ref = ((image.get("image") or {}).get("ref") or {}).get("$link")
                if not isinstance(image.get("alt"), str) or ref not in fake.blobs:
                    return "Invalid app.bsky.feed.post record: Record/embed/images/image blob not found"
        return None

    @app.post("/xrpc/com.atproto.repo.createRecord", response_model=None)
    async def create_record(request: Request) -> Any:
        jwt = bearer(request)
        if isinstance(jwt, JSONResponse):
            return jwt
        body = await request.json()
        repo, collection, rkey = body.get("repo"), body.get("collection"), body.get("rkey")
        if repo != jwt.did:
            return error(400, "InvalidRequest", "Input/repo must be the authenticated user's DID")
        if collection == POST and (not isinstance(rkey, str) or not TID.match(rkey)):
            return error(400, "InvalidRequest", "Invalid record key: must be a TID")
        problem = valid_record(jwt.did, body.get("record"))
        if problem:
            return error(400, "InvalidRequest", problem)
        key = (jwt.did, str(collection), str(rkey))
        if key in fake.records:
            return error(500, "InternalServerError", "Internal Server Error")
        fake.records[key] = body["record"]
        fake.indexed[key] = (
            datetime.fromtimestamp(fake.clock(), UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        uri = f"at://{jwt.did}/{collection}/{rkey}"
        return {"uri": uri, "cid": _cid(uri), "commit": {"cid": _cid("commit" + uri), "rev": rkey}}

    @app.get("/xrpc/com.atproto.repo.getRecord", response_model=None)
    async def get_record(repo: str, collection: str, rkey: str) -> Any:
        value = fake.records.get((repo, collection, rkey))
        uri = f"at://{repo}/{collection}/{rkey}"
        if value is None:
            return error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return {"uri": uri, "cid": _cid(uri), "value": value}

    @app.post("/xrpc/com.atproto.repo.deleteRecord", response_model=None)
    async def delete_record(request: Request) -> Any:
        jwt = bearer(request)
        if isinstance(jwt, JSONResponse):
            return jwt
        body = await request.json()
        if body.get("repo") != jwt.did:
            return error(400, "InvalidRequest", "Input/repo must be the authenticated user's DID")
        key = (jwt.did, str(body.get("collection")), str(body.get("rkey")))
        if fake.records.pop(key, None) is not None:
            fake.deleted.append(f"at://{key[0]}/{key[1]}/{key[2]}")
        return {"commit": {"cid": _cid(str(key)), "rev": "3" + "2" * 12}}  # absent keys delete "fine" too

    @app.post("/xrpc/com.atproto.repo.uploadBlob", response_model=None)
    async def upload_blob(request: Request) -> Any:
        jwt = bearer(request)
        if isinstance(jwt, JSONResponse):
            return jwt
        data = await request.body()
        if len(data) > 1_000_000:
            return error(
                400, "BlobTooLarge", "This file is too large. It is 1.2MB but the maximum size is 1.0MB"
            )
        ref = "bafkrei" + hashlib.sha256(data).hexdigest()[:52]
        fake.blobs[ref] = data
        mime = request.headers.get("content-type", "application/octet-stream")
        return {"blob": {"$type": "blob", "ref": {"$link": ref}, "mimeType": mime, "size": len(data)}}

    def post_view(did: str, rkey: str) -> dict[str, Any]:
        uri = f"at://{did}/{POST}/{rkey}"
        account = fake.accounts[did]
        return {
            "uri": uri,
            "cid": _cid(uri),
            "author": {"did": did, "handle": account.handle},
            "record": fake.records[(did, POST, rkey)],
            "indexedAt": fake.indexed.get((did, POST, rkey), fake.records[(did, POST, rkey)]["createdAt"]),
            "replyCount": sum(
                1
                for key, value in fake.records.items()
                if key[1] == POST and ((value.get("reply") or {}).get("parent") or {}).get("uri") == uri
            ),
        }

    def thread(did: str, rkey: str, depth: int) -> dict[str, Any]:
        uri = f"at://{did}/{POST}/{rkey}"
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": post_view(did, rkey)}
        if depth > 0:
            children = [
                key
                for key, value in sorted(fake.records.items())
                if key[1] == POST and ((value.get("reply") or {}).get("parent") or {}).get("uri") == uri
            ]
            node["replies"] = [thread(child[0], child[2], depth - 1) for child in children]
        return node

    @app.get("/xrpc/app.bsky.feed.getPostThread", response_model=None)
    async def get_post_thread(request: Request, uri: str, depth: int = 6) -> Any:
        jwt = bearer(request)
        if isinstance(jwt, JSONResponse):
            return jwt
        parts = uri.removeprefix("at://").split("/")
        if len(parts) != 3 or (parts[0], parts[1], parts[2]) not in fake.records:
            return error(400, "NotFound", f"Post not found: {uri}")
        return {"thread": thread(parts[0], parts[2], depth)}

    return app


def _cid(seed: str) -> str:
    return "bafyrei" + hashlib.sha256(seed.encode()).hexdigest()[:52]
