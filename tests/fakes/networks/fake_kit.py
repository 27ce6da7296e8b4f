"""What every OAuth network fake needs: test knobs (fail, accept-then-hang, rate limits) and an OAuth
2.0 authorization server (codes with PKCE S256, access and refresh tokens that expire or are revoked).

Each network's fake (linkedin.py, x.py) keeps one `FaultPlan` and one `TokenBook` on its state
object, installs `fault_middleware`, and renders errors in its own network's shape.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


@dataclass
class Fault:
    """Answer the next `times` requests to `method path` with `status` (the handler never runs)."""

    method: str
    path: str
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None


@dataclass
class Hang:
    """Run the next request to `method path` (so the network acts), then answer after `seconds`."""

    method: str
    path: str
    seconds: float


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    hangs: list[Hang] = field(default_factory=list)
    # Requests left in the current rate-limit window; None = unlimited.
    remaining: int | None = None
    limit: int = 100
    reset_after_seconds: float = 1.0
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: object = None,
    ) -> None:
        self.faults.append(Fault(method.upper(), path, status, times, dict(headers or {}), body))

    def hang_next(self, method: str, path: str, seconds: float) -> None:
        self.hangs.append(Hang(method.upper(), path, seconds))

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def take_hang(self, method: str, path: str) -> Hang | None:
        for hang in self.hangs:
            if hang.method == method and path.startswith(hang.path):
                self.hangs.remove(hang)
                return hang
        return None


RateHeaders = Callable[[FaultPlan], dict[str, str]]
ErrorBody = Callable[[int, str], object]


def fault_middleware(
    app: FastAPI,
    plan: FaultPlan,
    *,
    rate_headers: RateHeaders,
    error_body: ErrorBody,
    exempt: tuple[str, ...] = (),
) -> None:
    """Apply `plan` to every request but those under `exempt` (OAuth pages, upload URLs)."""

    @app.middleware("http")
    async def apply(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        method, path = request.method, request.url.path
        plan.requests.append((method, path))
        if path.startswith(exempt):
            return await call_next(request)
        fault = plan.take_fault(method, path)
        if fault is not None:
            body = fault.body if fault.body is not None else error_body(fault.status, "injected failure")
            return JSONResponse(body, status_code=fault.status, headers=fault.headers)
        if plan.remaining is not None:
            if plan.remaining <= 0:
                body = error_body(429, "Too Many Requests")
                return JSONResponse(body, status_code=429, headers=rate_headers(plan))
            plan.remaining -= 1
        hang = plan.take_hang(method, path)
        response = await call_next(request)
        for name, value in rate_headers(plan).items():
            response.headers[name] = value
        if hang is not None:
            await asyncio.sleep(hang.seconds)
        return response


# --- OAuth 2.0 ---------------------------------------------------------------------------------


@dataclass
class IssuedToken:
    access_token: str
    refresh_token: str
    scopes: tuple[str, ...]
    subject: str
    client_id: str
    expires_at: float
    created_at: float
    revoked: bool = False

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str
    subject: str


class OAuthRefused(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class TokenBook:
    """Registered clients, pending codes and issued tokens of one fake authorization server."""

    clients: dict[str, str]  # client_id -> client_secret
    allowed_scopes: tuple[str, ...]
    subject: str  # the user who approves every authorization
    access_lifetime: float
    rotate_refresh: bool
    codes: dict[str, PendingCode] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    refreshed: list[str] = field(default_factory=list)

    def authorize(self, params: dict[str, str]) -> str:
        """The `code` for an auto-approved authorization request, or OAuthRefused."""
        client_id = params.get("client_id", "")
        if client_id not in self.clients:
            raise OAuthRefused("invalid_client", "unknown client_id")
        if params.get("response_type") != "code":
            raise OAuthRefused("unsupported_response_type", "response_type must be code")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            raise OAuthRefused("invalid_request", "redirect_uri is required")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthRefused(
                "invalid_request", "code_challenge with code_challenge_method=S256 is required"
            )
        scopes = tuple(params.get("scope", "").replace(",", " ").split())
        unknown = [s for s in scopes if s not in self.allowed_scopes]
        if not scopes or unknown:
            raise OAuthRefused("invalid_scope", f"unknown or missing scopes: {unknown}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = PendingCode(
            client_id, redirect_uri, scopes, params["code_challenge"], self.subject
        )
        return code

    def client(self, client_id: str | None, client_secret: str | None) -> str:
        if not client_id or self.clients.get(client_id) != client_secret:
            raise OAuthRefused("invalid_client", "client authentication failed", 401)
        return client_id

    def redeem(self, client_id: str, code: str, verifier: str, redirect_uri: str) -> IssuedToken:
        pending = self.codes.pop(code, None)
        if pending is None or pending.client_id != client_id:
            raise OAuthRefused("invalid_grant", "authorization code is invalid or used")
        if pending.redirect_uri != redirect_uri:
            raise OAuthRefused("invalid_grant", "redirect_uri does not match")
        if s256(verifier) != pending.challenge:
            raise OAuthRefused("invalid_grant", "code_verifier does not match the code_challenge")
        return self.issue(pending.subject, pending.scopes, client_id)

    def issue(self, subject: str, scopes: tuple[str, ...], client_id: str = "test") -> IssuedToken:
        now = time.time()
        token = IssuedToken(
            access_token=secrets.token_urlsafe(24),
            refresh_token=secrets.token_urlsafe(24),
            scopes=scopes,
            subject=subject,
            client_id=client_id,
            expires_at=now + self.access_lifetime,
            created_at=now,
        )
        self.tokens[token.access_token] = token
        return token

    def refresh(self, client_id: str, refresh_token: str) -> IssuedToken:
        for old in list(self.tokens.values()):
            if old.refresh_token == refresh_token and not old.revoked and old.client_id == client_id:
                new = self.issue(old.subject, old.scopes, client_id)
                if not self.rotate_refresh:
                    new.refresh_token = old.refresh_token
                old.refresh_token = ""  # the old refresh token now lives on the new grant (or is gone)
                self.refreshed.append(refresh_token)
                return new
        raise OAuthRefused("invalid_grant", "refresh token is invalid, used or revoked")

    def lookup(self, authorization: str | None) -> IssuedToken | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.tokens.get(authorization.removeprefix("Bearer ").strip())

    def expire(self, access_token: str) -> None:
        self.tokens[access_token].expires_at = time.time() - 1

    def revoke(self, access_token: str) -> None:
        self.tokens[access_token].revoked = True
