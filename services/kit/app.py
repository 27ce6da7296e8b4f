"""The FastAPI app every service builds: error handlers, health and readiness, tracing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from services.kit.auth import RevocationList, gateway_revocations
from services.kit.db import check_pool
from services.kit.errors import install_error_handlers
from services.kit.http import service_client
from services.kit.limits import BodyLimitMiddleware, LimitSettings
from services.kit.metrics import install_metrics
from services.kit.processes import serves_api
from services.kit.telemetry import instrument_app, setup_tracing

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class ErrorBody(BaseModel):
    """Every error any service answers: `{"error": code, "detail": message}` (services/kit/errors.py)."""

    error: str
    detail: Any


# Documented on every route of every service: what the shared error handling, the body limit and
# the gateway's sign-in limits can answer (a route's own responses add to these).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Not signed in, or the token is not valid (or its user was deactivated)"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        # Both kinds of 422 share the error shape: input that fails validation (`detail` lists
        # each problem with its loc, msg and type) and a request the service cannot process
        # (`detail` says why).
        (422, "Invalid input, or a request the service cannot process"),
        (429, "Too many attempts"),
        (503, "A service this one depends on did not answer"),
    )
}
READY_TIMEOUT_SECONDS = 3.0


async def _check_database(app: FastAPI) -> str:
    sessionmaker = getattr(app.state, "sessionmaker", None)
    if sessionmaker is None:
        return "not started"
    # A pool with every connection checked out is reported at once: waiting for one would only
    # time out, and say less.
    check_pool(sessionmaker.kw["bind"])
    async with sessionmaker() as session:
        await session.execute(text("SELECT 1"))
    return "ok"


async def _check_temporal(app: FastAPI) -> str:
    if not hasattr(app.state, "temporal"):
        return "not used"  # e.g. the gateway, which has no activities
    client = app.state.temporal
    if client is None:
        return "not used" if not app.state.settings.temporal_enabled else "not connected"
    await client.service_client.check_health(timeout=timedelta(seconds=2))
    return "ok"


def _with_revocations(lifespan: Lifespan) -> Lifespan:
    """Run the service's own lifespan, then keep its copy of the revocation list fresh.

    A lifespan may install its own `app.state.revocations` (the gateway reads its database; the
    review service listens for new entries); otherwise the list is read from the gateway. A list
    left on the app by an earlier run of it (the same app object started again in-process) is
    never reused: it would carry that run's deactivations. A process that runs only the activity
    worker (`clearpost worker <service>`) checks no tokens: no list.
    """

    @asynccontextmanager
    async def wrapped(app: FastAPI) -> AsyncIterator[None]:
        earlier: RevocationList | None = getattr(app.state, "revocations", None)
        async with lifespan(app):
            if not serves_api(app):
                yield
                return
            revocations: RevocationList | None = getattr(app.state, "revocations", None)
            if revocations is not None and revocations is not earlier:
                async with revocations.running():
                    yield
                return
            settings = app.state.settings
            async with service_client() as http:
                app.state.revocations = revocations = RevocationList(
                    gateway_revocations(http, settings.gateway_internal(), app.state.internal_token),
                    interval=LimitSettings().revocation_refresh_seconds,
                )
                async with revocations.running():
                    yield

    return wrapped


def create_service_app(
    *, service: str, title: str, lifespan: Lifespan, routers: list[APIRouter], description: str = ""
) -> FastAPI:
    setup_tracing(service)
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=_with_revocations(lifespan),
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(app)
    limits = LimitSettings()
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=limits.max_body_bytes, max_upload_bytes=limits.max_upload_bytes
    )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, Any]:
        """The process is up (liveness)."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        """Ready to serve: its database and (where it uses one) Temporal answer."""
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("temporal", _check_temporal)):
            try:
                checks[name] = await asyncio.wait_for(check(request.app), READY_TIMEOUT_SECONDS)
            except Exception as exc:  # any failure means not ready; the reason is reported
                checks[name] = f"failed: {type(exc).__name__}: {exc}"
        ready = all(v in ("ok", "not used") for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unready", "service": service, "checks": checks},
            status_code=200 if ready else 503,
        )

    install_metrics(app, service)
    for router in routers:
        app.include_router(router)
    instrument_app(app)
    return app
