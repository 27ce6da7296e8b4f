"""Browser-facing protections of the review UI: CSRF, security headers, failed-password limits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_PREFIX = "/review"
SESSION_COOKIE = "clearpost_review_session"
LOGIN_CSRF_COOKIE = "clearpost_review_login"

# No inline script or style anywhere: everything the pages use is a file under /review/static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# The channels pages' "connect" form is answered with a redirect to the network's authorization page,
# and form-action governs the redirects after a form post too: there (only) it also allows what the
# publisher accepts as an authorization address (https, or plain http to loopback, for local fakes).
CHANNELS_PATH = f"{UI_PREFIX}/channels"
CHANNELS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "form-action 'self'", "form-action 'self' https: http://127.0.0.1:* http://localhost:* http://[::1]:*"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens_match(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def is_https(request: Request) -> bool:
    """Served over TLS: directly, or as the gateway (or a TLS proxy in front of it) says."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def public_origin(request: Request) -> str:
    """The origin the browser sees (the gateway's X-Forwarded-* when it proxied the request)."""
    scheme = "https" if is_https(request) else request.url.scheme
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip() or request.headers.get(
        "host", ""
    )
    return f"{scheme}://{host}"


def _own_origins(request: Request) -> set[str]:
    schemes = {request.url.scheme}
    forwarded_proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if forwarded_proto:
        schemes.add(forwarded_proto)
    hosts = {request.headers.get("host", "")}
    forwarded_host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    if forwarded_host:
        hosts.add(forwarded_host)
    return {f"{scheme}://{host}" for scheme in schemes for host in hosts if host}


def cross_site_reason(request: Request) -> str | None:
    """Why a state-changing request does not come from our own pages, or None when it does.

    A browser cannot forge Sec-Fetch-Site or Origin from another site's page, and cannot add the
    X-Forwarded-* headers to a form post, so these checks hold whichever way the page was served.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"the request came from another site (Sec-Fetch-Site: {site})"
    origin = request.headers.get("origin")
    if origin is not None and origin not in _own_origins(request):
        return "the request came from another origin"
    return None


def client_address(request: Request) -> str:
    # Behind the gateway, uvicorn's proxy-header handling has already put the browser's address here.
    return request.client.host if request.client else "unknown"


class FailureLimiter:
    """Counts failed password entries per account and per client address in a sliding window.

    In memory, per process: enough for one review service; a shared store comes with hardening.
    """

    def __init__(
        self,
        *,
        per_account: int,
        per_address: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self._clock()
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until another try is allowed, or None when it is allowed now."""
        waits: list[float] = []
        for kind, value in (("account", account.strip().lower()), ("address", address)):
            failures = self._recent((kind, value))
            if len(failures) >= self._limits[kind]:
                waits.append(failures[0] + self._window - self._clock())
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        for key in (("account", account.strip().lower()), ("address", address)):
            self._recent(key).append(now)

    def succeeded(self, account: str) -> None:
        self._failures.pop(("account", account.strip().lower()), None)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class UiSecurityHeaders:
    """Adds the security headers (a strict CSP among them) to every response under /review."""

    def __init__(self, app: ASGIApp, *, identity_provider: str | None = None) -> None:
        self.app = app
        # Signing a decision and signing out send an SSO user's form post on to the organization's
        # identity provider: form-action must allow its origin on every page (the sign-out form is
        # in every page's header).
        self._provider = origin_of(identity_provider) if identity_provider else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == UI_PREFIX or path.startswith(UI_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        static = path.startswith(f"{UI_PREFIX}/static/")
        policy: dict[str, str] = {}
        if self._provider:
            policy["content-security-policy"] = CONTENT_SECURITY_POLICY.replace(
                "form-action 'self'", f"form-action 'self' {self._provider}"
            )
        if path == CHANNELS_PATH or path.startswith(CHANNELS_PATH + "/"):
            policy["content-security-policy"] = CHANNELS_CONTENT_SECURITY_POLICY
            if self._provider:
                policy["content-security-policy"] = CHANNELS_CONTENT_SECURITY_POLICY.replace(
                    "form-action 'self'", f"form-action 'self' {self._provider}"
                )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in {**SECURITY_HEADERS, **policy}.items()]
                if not static:
                    headers = [(k, v) for k, v in headers if k.decode().lower() != "cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
