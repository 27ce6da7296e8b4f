"""The FastAPI app every service builds: error handlers, health and readiness, tracing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from services.kit.errors import install_error_handlers
from services.kit.telemetry import instrument_app, setup_tracing

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
READY_TIMEOUT_SECONDS = 3.0


async def _check_database(app: FastAPI) -> str:
    sessionmaker = getattr(app.state, "sessionmaker", None)
    if sessionmaker is None:
        return "not started"
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


def create_service_app(
    *, service: str, title: str, lifespan: Lifespan, routers: list[APIRouter], description: str = ""
) -> FastAPI:
    setup_tracing(service)
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

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

    for router in routers:
        app.include_router(router)
    instrument_app(app)
    return app
