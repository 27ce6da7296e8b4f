from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.audit.activities import AuditActivities
from services.audit.config import get_settings
from services.audit.endpoints import router
from services.audit.service import AuditLog
from services.kit.app import create_service_app
from services.kit.auth import JwksKeySet, load_internal_token
from services.kit.db import create_engine, create_sessionmaker
from services.kit.temporal import connect, running_worker
from workflows.contracts import AUDIT_TASK_QUEUE


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.audit_log = AuditLog(app.state.sessionmaker)
    app.state.internal_token = load_internal_token(settings)
    async with httpx.AsyncClient() as http:
        app.state.key_set = JwksKeySet(f"{settings.gateway_url}/api/v1/auth/jwks", http)
        if settings.temporal_enabled:
            client = await connect(settings)
            activities = AuditActivities(app.state.audit_log)
            async with running_worker(client, AUDIT_TASK_QUEUE, [activities.append_audit_event]):
                yield
        else:
            yield
    await engine.dispose()


app = create_service_app(
    service="audit",
    title="Clearpost audit",
    description="Append-only, hash-chained audit log of every Clearpost action.",
    lifespan=lifespan,
    routers=[router],
)
