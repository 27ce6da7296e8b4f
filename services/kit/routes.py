"""Which methods a path answers: the `Allow` header of every 405 (RFC 9110 §15.5.6).

Starlette answers a path that matches with another method by the first route that matched, so a
path with one route per method (`GET /api/v1/drafts`, `POST /api/v1/drafts`) used to name only one
of them. Every service's 405 names every method its routes declare for the path.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_header(methods: Iterable[str]) -> str:
    """`GET, POST, ...` in one stable order."""
    known = {m.upper() for m in methods}
    ordered = [m for m in METHOD_ORDER if m in known] + sorted(known - set(METHOD_ORDER))
    return ", ".join(ordered)


def declared_methods(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """Every method of METHOD_ORDER some route answers for the request's path, asked of each route
    the way the router asks it (so routers FastAPI includes lazily are covered too)."""
    routes = list(routes)
    return {
        method
        for method in METHOD_ORDER
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    }
