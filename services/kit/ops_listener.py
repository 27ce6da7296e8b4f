"""The operations listener of a process that serves no API: `/healthz`, `/readyz` and `/metrics`.

A worker-only process (`clearpost worker <service>`, `clearpost worker`) polls Temporal and answers
no requests, yet a cluster still probes it and Prometheus still scrapes it. With
CLEARPOST_WORKER_HEALTH_PORT set, such a process also listens on that port (on
CLEARPOST_BIND_HOST) for exactly those three paths; anything else is a 404. Unset, it listens on
nothing, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import Client

from services.kit.errors import install_error_handlers, send_error
from services.kit.metrics import install_metrics
from services.kit.settings import KitSettings

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class OpsOnly:
    """An ASGI app that lets through only the operations paths of `app` (no lifespan: the process
    runs its app's lifespan itself)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in OPS_PATHS:
            await self._app(scope, receive, send)
            return
        if scope["type"] == "http":
            await send_error(send, 404, "not_found", "a worker serves only /healthz, /readyz and /metrics")


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's stop event decides when it ends."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def ops_listener(app: ASGIApp, host: str, port: int | None) -> AsyncIterator[None]:
    """Serve `app`'s operations paths on host:port for the block (nothing when port is None)."""
    if port is None:
        yield
        return
    config = uvicorn.Config(
        OpsOnly(app), host=host, port=port, lifespan="off", log_config=None, access_log=False
    )
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # the port was taken, say: raise what uvicorn raised
                raise RuntimeError(f"the operations listener on {host}:{port} did not start")
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await serving


def workflow_worker_ops_app(settings: KitSettings, client: Client) -> FastAPI:
    """The workflow worker's operations paths (it has no service app of its own): alive, ready
    while Temporal answers, and its metrics (the Temporal SDK's among them)."""
    app = FastAPI(title="Clearpost workflow worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "workflows"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await client.service_client.check_health(timeout=timedelta(seconds=2))
            check = "ok"
        except Exception as exc:  # any failure means not ready; the reason is reported
            check = f"failed: {type(exc).__name__}: {exc}"
        ready = check == "ok"
        return JSONResponse(
            {
                "status": "ready" if ready else "unready",
                "service": "workflows",
                "checks": {"temporal": check},
            },
            status_code=200 if ready else 503,
        )

    install_metrics(app, "workflows")
    return app
