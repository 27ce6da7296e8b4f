from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.audit.activities import AuditActivities
from services.audit.config import get_settings
from services.audit.endpoints import router
from services.audit.export import AuditExporter
from services.audit.signing import load_audit_key_ring, record_pending_rotations
from services.audit.writer import AuditLog
from services.kit.app import create_service_app
from services.kit.auth import JwksKeySet, install_internal_credentials
from services.kit.db import create_engine, create_sessionmaker
from services.kit.errors import ClearpostError
from services.kit.http import service_client
from services.kit.processes import activity_worker, serves_api
from services.kit.temporal import connect
from workflows.contracts import AUDIT_TASK_QUEUE

log = logging.getLogger(__name__)


async def sign_tree_heads_periodically(audit_log: AuditLog, every_seconds: float) -> None:
    """Between the every-N-events heads, a quiet log still gets a signed head every M seconds."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await audit_log.sign_tree_head(only_if_grown=True)
        except (ClearpostError, OSError) as exc:
            log.warning("could not sign a periodic tree head: %s", exc)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    # The key ring is read once: after `clearpost keys rotate audit` a restart signs with the new key.
    app.state.audit_keys = load_audit_key_ring(settings.service_keys_dir("audit"))
    app.state.audit_signer = app.state.audit_keys.current
    app.state.audit_log = AuditLog(
        app.state.sessionmaker,
        signer=app.state.audit_signer,
        head_every_events=settings.audit_tree_head_every_events,
    )
    app.state.audit_exporter = AuditExporter(app.state.audit_log, batch_size=settings.audit_export_batch_size)
    install_internal_credentials(app, settings, "audit")
    await record_pending_rotations(app.state.audit_log.append, settings.service_keys_dir("audit"))
    # The API process signs the periodic heads; a worker-only process signs only every N events.
    signing = (
        asyncio.create_task(
            sign_tree_heads_periodically(app.state.audit_log, settings.audit_tree_head_every_seconds)
        )
        if serves_api(app)
        else None
    )
    try:
        async with service_client() as http:
            app.state.key_set = JwksKeySet(f"{settings.gateway_url}/api/v1/auth/jwks", http)
            app.state.temporal = None
            if settings.temporal_enabled:
                app.state.temporal = client = await connect(settings)
                activities = AuditActivities(app.state.audit_log)
                async with activity_worker(app, client, AUDIT_TASK_QUEUE, [activities.append_audit_event]):
                    yield
            else:
                yield
    finally:
        if signing is not None:
            signing.cancel()
            await asyncio.gather(signing, return_exceptions=True)
        await engine.dispose()


app = create_service_app(
    service="audit",
    title="Clearpost audit",
    description="Append-only, hash-chained, Merkle-tree audit log of every Clearpost action,"
    " with signed tree heads and exports that verify offline.",
    lifespan=lifespan,
    routers=[router],
)
