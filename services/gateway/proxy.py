"""The public front door: forwards each public path prefix to the service that owns it.

The gateway adds nothing of its own to a forwarded request (no identity headers): every service
verifies the caller's bearer token itself. Responses stream through, so exports of any size pass
with flat memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Protocol

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from services.kit.errors import MethodNotAllowed, NotFound, UpstreamUnavailable
from services.kit.http import SERVICE_LIMITS
from services.kit.limits import MAX_BODY_BYTES
from services.kit.metrics import ROUTE_TEMPLATE_KEY
from services.kit.routes import allow_header
from services.kit.settings import KitSettings

# Public path prefix -> owning service. A prefix matches itself and anything below it ("/x/...").
ROUTES: dict[str, str] = {
    "/api/v1/drafts": "drafts",
    "/api/v1/consents": "drafts",
    "/api/v1/takedowns": "drafts",
    "/api/v1/reviews": "review",
    "/api/v1/screenings": "review",
    "/api/v1/policy": "review",
    "/api/v1/notifications": "review",
    "/api/v1/crisis": "review",
    "/api/v1/ae-cases": "review",
    "/review": "review",
    "/api/v1/publications": "publisher",
    "/api/v1/channels": "publisher",
    "/api/v1/channel-accounts": "publisher",
    "/api/v1/publishing": "publisher",
    "/api/v1/live-posts": "publisher",
    "/api/v1/renditions": "publisher",
    "/api/v1/comments": "publisher",
    "/public/v1/media": "publisher",
    "/api/v1/audit": "audit",
}
# Paths under another service's prefix that this one owns: (pattern, service), tried first.
PATTERN_ROUTES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/v1/drafts/[^/]+/takedown$"), "publisher"),
)
# The services behind the gateway, each once.
UPSTREAMS: tuple[str, ...] = tuple(dict.fromkeys(ROUTES.values()))
# The methods a fake upstream in the tests answers; the proxy itself forwards every method, and
# refuses one a proxied path does not declare (its service's OpenAPI document says which it does).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Origin and Sec-Fetch-Site let the review UI refuse cross-site form posts (CSRF); the gateway
# adds X-Forwarded-* of its own (never the caller's) so the UI knows its public origin and scheme.
REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "cookie",
    "origin",
    "sec-fetch-site",
    "if-none-match",
    "if-modified-since",
)
RESPONSE_HEADERS = (
    "allow",
    "content-type",
    "content-disposition",
    "location",
    "set-cookie",
    "www-authenticate",
    "cache-control",
    "etag",
    "last-modified",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
)


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


def owner_of(path: str) -> str | None:
    """The service a public path is forwarded to, or None (the gateway's own, /internal, unknown)."""
    for pattern, service in PATTERN_ROUTES:
        if pattern.match(path):
            return service
    for prefix, service in ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


@dataclass(frozen=True)
class PathMethods:
    """A proxied operation's path template and the methods its service declares for it."""

    template: str
    methods: frozenset[str]
    pattern: re.Pattern[str]


class DeclaredRoutes(Protocol):
    def methods_for(self, path: str) -> PathMethods | None: ...


class NoDeclaredRoutes:
    """Before any service's document was read: every method is forwarded, the service answers."""

    def methods_for(self, path: str) -> PathMethods | None:
        return None


def upstream_client(*, connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    """The one client every forwarded request goes through (built in lifespan).

    Its cookie jar refuses every cookie: a shared jar would replay one user's session to the next.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        limits=SERVICE_LIMITS,
        follow_redirects=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


class UpstreamProxy:
    def __init__(
        self, http: httpx.AsyncClient, settings: KitSettings, declared: DeclaredRoutes | None = None
    ) -> None:
        self._http = http
        self._bases = {service: settings.service_url(service) for service in UPSTREAMS}
        self._declared = declared or NoDeclaredRoutes()

    def base_for(self, path: str) -> str | None:
        service = owner_of(path)
        return None if service is None else self._bases[service]

    async def forward(self, request: Request) -> StreamingResponse:
        path = request.url.path
        segments = path.split("/")
        # `..` would let an upstream resolve the path somewhere else (e.g. its /internal routes).
        base = self.base_for(path)
        if base is None or "." in segments or ".." in segments:
            raise NotFound("no such route")
        declared = self._declared.methods_for(path)
        if declared is not None:
            request.scope[ROUTE_TEMPLATE_KEY] = declared.template  # the request histogram's label
            if request.method not in declared.methods:
                raise MethodNotAllowed(allow_header(declared.methods))
        raw_path: bytes = request.scope.get("raw_path") or path.encode()
        query = request.url.query
        url = f"{base}{raw_path.decode('latin-1')}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k in REQUEST_HEADERS]
        headers += [
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-host", request.headers.get("host", request.url.netloc)),
            ("x-forwarded-for", request.client.host if request.client else ""),
        ]
        body = await request.body()  # bounded by services.kit.limits.BodyLimitMiddleware
        upstream = await self._send(request.method, url, headers, body, base)
        response = StreamingResponse(
            upstream.aiter_bytes(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        for name in RESPONSE_HEADERS:
            for value in upstream.headers.get_list(name):
                response.headers.append(name, value)
        return response

    async def _send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, base: str
    ) -> httpx.Response:
        """Send upstream. A read (GET, HEAD) whose connection the service closed before answering is
        sent once more on a new connection; anything else is answered 503 for the client to retry."""
        attempts = 2 if method in IDEMPOTENT_METHODS else 1
        for attempt in range(1, attempts + 1):
            upstream_request = self._http.build_request(method, url, headers=headers, content=body)
            try:
                return await self._http.send(upstream_request, stream=True)
            except httpx.RemoteProtocolError as exc:
                if attempt == attempts:
                    raise UpstreamUnavailable(f"{base} did not answer ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(f"{base} did not answer ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")


class ForwardEveryMethod:
    """The proxy's route endpoint: a plain ASGI app, so its routes take every method (a FastAPI
    route takes only those it lists, and would answer any other with a 405 naming its own)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        proxy: UpstreamProxy = request.app.state.proxy
        response = await proxy.forward(request)
        await response(scope, receive, send)


class RefuseEveryMethod:
    """`/internal/...` on the public listener: 404 whatever the method."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Service-to-service routes are reachable only on the internal network, never through here.
        raise NotFound("no such route")


# The body limit every service applies (services/kit/limits.py) bounds what the proxy forwards.
__all__ = ["MAX_BODY_BYTES", "METHODS", "ROUTES", "UPSTREAMS", "UpstreamProxy", "owner_of", "upstream_client"]
