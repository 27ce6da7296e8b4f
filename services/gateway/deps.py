from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.config import GatewaySettings
from services.gateway.service import AuthService, UserService
from services.kit.auth import require_roles
from services.kit.deps import SessionDep
from services.kit.tokens import Principal


def get_auth_service(request: Request, session: SessionDep) -> AuthService:
    state = request.app.state
    settings: GatewaySettings = state.settings
    return AuthService(
        session,
        passwords=state.passwords,
        audit=state.audit,
        signing_key=state.signing_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.gateway_token_ttl_seconds,
        refresh_ttl_seconds=settings.gateway_refresh_token_ttl_seconds,
        throttles=state.throttles,
    )


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def get_user_service(request: Request, session: SessionDep) -> UserService:
    state = request.app.state
    return UserService(session, passwords=state.passwords, audit=state.audit)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


AdminDep = Annotated[Principal, require_roles("admin")]
