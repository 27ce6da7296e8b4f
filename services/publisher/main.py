from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient
from services.kit.auth import JwksKeySet, install_internal_credentials
from services.kit.db import create_engine, create_sessionmaker
from services.kit.http import internal_client
from services.kit.temporal import connect, running_worker
from services.publisher.activities import PublisherActivities
from services.publisher.approvals import ApprovalGate
from services.publisher.channels import build_channels
from services.publisher.config import get_settings
from services.publisher.drafts_client import DraftsVersionClient
from services.publisher.endpoints import router
from workflows.contracts import PUBLISHER_TASK_QUEUE


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Before anything else: a configured channel without an implementation must stop startup.
    channels = build_channels(
        settings.publisher_channels, outbox_dir=settings.outbox_dir, webhook=settings.webhook_config()
    )
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    install_internal_credentials(app, settings, "publisher")
    app.state.channels = channels
    try:
        async with (
            httpx.AsyncClient() as http,
            internal_client(settings.service_url("drafts"), app.state.internal_token) as drafts_http,
            internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
        ):
            app.state.key_set = JwksKeySet(f"{settings.gateway_url}/api/v1/auth/jwks", http)
            app.state.drafts = DraftsVersionClient(drafts_http)
            review_keys = JwksKeySet(f"{settings.service_url('review')}/api/v1/reviews/keys", http)
            gate = ApprovalGate(review_keys, AuditClient(audit_http, "publisher"))
            if settings.temporal_enabled:
                client = await connect(settings)
                activities = PublisherActivities(
                    app.state.sessionmaker, app.state.drafts, channels, approvals=gate
                )
                async with running_worker(client, PUBLISHER_TASK_QUEUE, [activities.publish_post]):
                    yield
            else:
                yield
    finally:
        await engine.dispose()


app = create_service_app(
    service="publisher", title="Clearpost publisher", lifespan=lifespan, routers=[router]
)
