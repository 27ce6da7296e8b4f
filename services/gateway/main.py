from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.gateway.access_review import ReviewLastDecisions
from services.gateway.config import get_settings
from services.gateway.endpoints import auth_router, internal_router, proxy_router, users_router
from services.gateway.idp import IdentityProvider, IdpClient
from services.gateway.internal_listener import InternalRoutesOffThePublicPort
from services.gateway.oidc_endpoints import oidc_internal_router, oidc_router
from services.gateway.proxy import UpstreamProxy, upstream_client
from services.gateway.public_api import PublicApi
from services.gateway.revocations import database_revocations
from services.gateway.scim import load_scim_token, scim_router
from services.gateway.scim_groups import scim_groups_router
from services.gateway.service import Passwords
from services.gateway.throttles import LoginThrottles, ThrottleLimits
from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient, delivering_pending_key_events
from services.kit.auth import (
    KeyFilesKeySet,
    RevocationList,
    install_internal_credentials,
)
from services.kit.db import create_engine, create_sessionmaker
from services.kit.http import internal_client
from services.kit.limits import LimitSettings
from services.kit.tokens import load_key_ring

SIGNING_KEY_NAME = "gateway-signing"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    # The current key signs; every key of the ring (retired ones too, with their retirement time) is
    # published and accepted for what it signed before then, so tokens issued before
    # `clearpost keys rotate gateway` work until they expire; the published set is read from the
    # key files again every minute, so `clearpost keys revoke gateway` needs no restart.
    ring = load_key_ring(settings.service_keys_dir("gateway"), SIGNING_KEY_NAME)
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    install_internal_credentials(app, settings, "gateway")
    app.state.scim_token = load_scim_token(settings)
    app.state.key_ring = ring
    app.state.signing_key = ring.current
    app.state.key_set = KeyFilesKeySet(settings.service_keys_dir("gateway"), SIGNING_KEY_NAME)
    app.state.passwords = Passwords()
    app.state.throttles = LoginThrottles(
        app.state.sessionmaker,
        ThrottleLimits(
            per_account=settings.gateway_max_failures_per_account,
            per_address=settings.gateway_max_failures_per_address,
            window_seconds=settings.gateway_failure_window_seconds,
            lockout_seconds=settings.gateway_lockout_seconds,
        ),
    )
    app.state.revocations = RevocationList(
        database_revocations(app.state.sessionmaker), interval=LimitSettings().revocation_refresh_seconds
    )
    upstream = upstream_client(
        connect_timeout=settings.gateway_upstream_connect_timeout,
        read_timeout=settings.gateway_upstream_read_timeout,
    )
    async with (
        upstream,
        httpx.AsyncClient(trust_env=False, follow_redirects=False) as idp_http,
        internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
        internal_client(settings.service_url("review"), app.state.internal_token) as review_http,
        # Key rotations `clearpost keys` could not hand to the audit service yet.
        delivering_pending_key_events(audit_http, settings.service_keys_dir("gateway")),
    ):
        app.state.public_api = PublicApi(
            upstream, settings, lambda: FastAPI.openapi(app), settings.gateway_openapi_refresh_seconds
        )
        app.state.proxy = UpstreamProxy(upstream, settings, app.state.public_api)
        app.state.audit = AuditClient(audit_http, "gateway")
        app.state.last_decisions = ReviewLastDecisions(review_http)
        app.state.idp = (
            IdentityProvider(
                idp_http,
                IdpClient(
                    issuer=settings.oidc_issuer or "",
                    client_id=settings.oidc_client_id or "",
                    client_secret=settings.oidc_secret(),
                    scopes=settings.oidc_scopes,
                ),
            )
            if settings.oidc_enabled
            else None
        )
        # No Temporal worker: the gateway has no activities yet. One would start here, as in the others.
        async with app.state.public_api.running():
            yield
    await engine.dispose()


app = create_service_app(
    service="gateway",
    title="Clearpost gateway",
    description="Clearpost identity (users, tokens, JWKS, SCIM) and the public front door.",
    lifespan=lifespan,
    # The gateway's own /internal route comes before the proxy's catch-all refusal of /internal.
    routers=[
        auth_router,
        oidc_router,
        users_router,
        scim_router,
        scim_groups_router,
        internal_router,
        oidc_internal_router,
        proxy_router,
    ],
)
app.add_middleware(InternalRoutesOffThePublicPort)


def public_openapi() -> dict[str, Any]:
    """/openapi.json (and /docs): the whole public API once the gateway runs (public_api.py); its
    own routes alone before that (a test reading the app's document without starting it)."""
    public_api: PublicApi | None = getattr(app.state, "public_api", None)
    return public_api.document() if public_api is not None else FastAPI.openapi(app)


app.openapi = public_openapi  # type: ignore[method-assign]
