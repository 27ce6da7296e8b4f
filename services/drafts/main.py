from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.drafts.activities import DraftActivities
from services.drafts.channels import PublisherChannelCatalog
from services.drafts.config import get_settings
from services.drafts.endpoints import consents_router, internal, router, takedowns_router
from services.drafts.media_store import MediaStore
from services.drafts.publisher_client import PublisherTakedowns
from services.drafts.reads import RecentReads
from services.drafts.schemas import document_channels
from services.drafts.sealing import FieldSealer, load_consent_keys
from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient
from services.kit.auth import JwksKeySet, install_internal_credentials
from services.kit.db import create_engine, create_sessionmaker
from services.kit.http import internal_client, service_client
from services.kit.processes import activity_worker
from services.kit.temporal import connect
from workflows.contracts import DRAFTS_TASK_QUEUE


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.recent_reads = RecentReads()
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    install_internal_credentials(app, settings, "drafts")
    app.state.sealer = FieldSealer(
        load_consent_keys(settings, settings.consent_key, settings.consent_previous_keys)
    )
    app.state.media_store = MediaStore(settings.media_path)
    async with (
        service_client() as http,
        internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
        internal_client(settings.service_url("publisher"), app.state.internal_token) as publisher_http,
    ):
        app.state.publisher = PublisherTakedowns(publisher_http)
        app.state.key_set = JwksKeySet(f"{settings.service_url('gateway')}/api/v1/auth/jwks", http)
        app.state.audit = AuditClient(audit_http, "drafts")
        app.state.channels = PublisherChannelCatalog(http, settings.service_url("publisher"))
        app.state.temporal = None
        if settings.temporal_enabled:
            app.state.temporal = await connect(settings)
            activities = DraftActivities(
                app.state.sessionmaker, app.state.audit, app.state.channels, app.state.sealer
            )
            async with activity_worker(
                app,
                app.state.temporal,
                DRAFTS_TASK_QUEUE,
                [activities.update_draft_state, activities.check_consent],
            ):
                yield
        else:
            yield
    await engine.dispose()


app = create_service_app(
    service="drafts",
    title="Clearpost drafts",
    description="Drafts, versions and their content hashes; media; patient consent records; takedown tasks.",
    lifespan=lifespan,
    routers=[router, consents_router, takedowns_router, internal],
)


def openapi_with_channels() -> dict[str, Any]:
    """The OpenAPI document, built once, with the channels this deployment configures."""
    if app.openapi_schema is None:
        app.openapi_schema = document_channels(FastAPI.openapi(app), get_settings().publisher_channels)
    return app.openapi_schema


app.openapi = openapi_with_channels  # type: ignore[method-assign]
