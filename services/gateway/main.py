from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.gateway.config import get_settings
from services.gateway.endpoints import auth_router, proxy_router, users_router
from services.gateway.proxy import BodyLimitMiddleware, UpstreamProxy, upstream_client
from services.gateway.service import Passwords
from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient
from services.kit.auth import StaticKeySet, load_internal_token
from services.kit.db import create_engine, create_sessionmaker
from services.kit.http import internal_client
from services.kit.tokens import load_or_create_signing_key


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    signing_key = load_or_create_signing_key(settings.keys_dir / "gateway-signing.pem")
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.internal_token = load_internal_token(settings)
    app.state.signing_key = signing_key
    app.state.key_set = StaticKeySet({signing_key.kid: signing_key.public_jwk})
    app.state.passwords = Passwords()
    upstream = upstream_client(
        connect_timeout=settings.gateway_upstream_connect_timeout,
        read_timeout=settings.gateway_upstream_read_timeout,
    )
    async with (
        upstream,
        internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
    ):
        app.state.proxy = UpstreamProxy(upstream, settings)
        app.state.audit = AuditClient(audit_http, "gateway")
        # No Temporal worker: the gateway has no activities yet. One would start here, as in the others.
        yield
    await engine.dispose()


app = create_service_app(
    service="gateway",
    title="Clearpost gateway",
    description="Clearpost identity (users, tokens, JWKS) and the public front door.",
    lifespan=lifespan,
    routers=[auth_router, users_router, proxy_router],
)
app.add_middleware(BodyLimitMiddleware)
