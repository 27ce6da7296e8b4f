"""Prometheus metrics for every service: `GET /metrics` and the HTTP request histogram.

`/metrics` needs no user token but the scrape credential: `Authorization: Bearer <token>` with
CLEARPOST_METRICS_TOKEN, else the token in var/keys/metrics-token (created once, mode 0600, shared by
the services of one machine). It is on each service's own port and is never proxied by the gateway
(no public prefix covers it); the gateway's own `/metrics` is on its public listener, hence the
credential everywhere rather than trust in the network.

A service adds series of its own with prometheus-client (`Counter`, `Histogram`, ...) in a
`metrics.py` of its own, and values computed from its tables at scrape time with
`add_scrape_refresher` (the review queue's depth and age).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import Unauthorized
from services.kit.keyfiles import new_token, read_or_create
from services.kit.settings import KitSettings

METRICS_PATH = "/metrics"
METRICS_TOKEN_FILE = "metrics-token"
# A route template a request matched, set by a route that routes further itself (the gateway's
# proxy sets the proxied operation's template); otherwise the matched route's own path.
ROUTE_TEMPLATE_KEY = "clearpost.route_template"
UNMATCHED = "unmatched"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REFRESH_TIMEOUT_SECONDS = 5.0

HTTP_REQUEST_SECONDS = Histogram(
    "clearpost_http_request_duration_seconds",
    "HTTP requests by route template and status: rate from _count, latency from the buckets.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

ScrapeRefresher = Callable[[FastAPI], Awaitable[None]]
log = logging.getLogger("clearpost.metrics")


def route_template(scope: Scope) -> str:
    """The template of what the request matched (`/api/v1/drafts/{draft_id}`), never its raw path."""
    template = scope.get(ROUTE_TEMPLATE_KEY)
    if isinstance(template, str):
        return template
    route: BaseRoute | None = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetricsMiddleware:
    """Observes every HTTP request's duration (until its last body chunk) with its route and status."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            HTTP_REQUEST_SECONDS.labels(self.service, method, route_template(scope), str(status)).observe(
                time.perf_counter() - started
            )


def load_metrics_token(settings: KitSettings) -> str:
    """The scrape credential: CLEARPOST_METRICS_TOKEN, else var/keys/metrics-token (created once)."""
    if settings.metrics_token:
        return settings.metrics_token
    return read_or_create(settings.keys_dir / METRICS_TOKEN_FILE, new_token).decode().strip()


def add_scrape_refresher(app: FastAPI, refresher: ScrapeRefresher) -> None:
    """Run `refresher(app)` before each scrape (to set gauges from the service's own tables)."""
    refreshers: list[ScrapeRefresher] = getattr(app.state, "scrape_refreshers", [])
    refreshers.append(refresher)
    app.state.scrape_refreshers = refreshers


def _check_scraper(request: Request) -> None:
    # Read at every scrape (a small file): a rotated credential needs no restart.
    settings: KitSettings = getattr(request.app.state, "settings", None) or KitSettings()
    token = load_metrics_token(settings)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("/metrics needs the scrape credential (CLEARPOST_METRICS_TOKEN)")


def install_metrics(app: FastAPI, service: str) -> None:
    """The request histogram and `GET /metrics` (not in the OpenAPI document: no client calls it)."""
    app.add_middleware(RequestMetricsMiddleware, service=service)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        _check_scraper(request)
        for refresher in getattr(request.app.state, "scrape_refreshers", []):
            try:
                await asyncio.wait_for(refresher(request.app), REFRESH_TIMEOUT_SECONDS)
            except Exception as exc:  # a failed refresh leaves its gauges as they were; the rest is served
                log.warning("a metrics refresh failed: %s: %s", type(exc).__name__, exc)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
