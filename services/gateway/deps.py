from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.access_review import AccessReviewService
from services.gateway.config import GatewaySettings
from services.gateway.idp import IdentityProvider
from services.gateway.oidc import OidcPolicy, OidcService
from services.gateway.service import AuthService, UserService
from services.kit.auth import current_principal, require_roles
from services.kit.deps import SessionDep
from services.kit.errors import NotFound
from services.kit.tokens import Principal

_bearer = HTTPBearer(auto_error=False)


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
        local_passwords=settings.local_passwords,
    )


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def get_user_service(request: Request, session: SessionDep) -> UserService:
    state = request.app.state
    return UserService(session, passwords=state.passwords, audit=state.audit)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


AdminDep = Annotated[Principal, require_roles("admin")]


def get_access_review_service(request: Request, session: SessionDep) -> AccessReviewService:
    state = request.app.state
    return AccessReviewService(session, audit=state.audit, last_decisions=state.last_decisions)


AccessReviewServiceDep = Annotated[AccessReviewService, Depends(get_access_review_service)]


def get_oidc_service(request: Request, session: SessionDep, auth: AuthServiceDep) -> OidcService:
    state = request.app.state
    idp: IdentityProvider | None = getattr(state, "idp", None)
    if idp is None:
        raise NotFound("sign-in through an identity provider is not configured (CLEARPOST_OIDC_ISSUER)")
    settings: GatewaySettings = state.settings
    return OidcService(session, idp=idp, policy=oidc_policy(settings), auth=auth, audit=state.audit)


OidcServiceDep = Annotated[OidcService, Depends(get_oidc_service)]


def oidc_policy(settings: GatewaySettings) -> OidcPolicy:
    return OidcPolicy(
        role_claim=settings.oidc_role_claim,
        role_map=settings.oidc_role_map,
        username_claim=settings.oidc_username_claim,
        redirect_uris=tuple(settings.oidc_redirect_uris),
        signing_max_age=settings.oidc_signing_max_age_seconds,
        signing_acr_values=tuple(settings.oidc_signing_acr_values),
        signing_amr_values=tuple(settings.oidc_signing_amr_values),
    )


async def optional_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """The caller when a bearer token is sent (a signing re-authentication), else None."""
    if credentials is None:
        return None
    return await current_principal(request, credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
