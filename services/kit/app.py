"""The FastAPI app every service builds: error handlers, health route, shared state from lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI

from services.kit.errors import install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *, title: str, lifespan: Lifespan, routers: list[APIRouter], description: str = ""
) -> FastAPI:
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"], include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": title}

    for router in routers:
        app.include_router(router)
    return app


async def no_lifespan(_: FastAPI) -> AsyncIterator[None]:  # pragma: no cover - helper for tests
    yield
