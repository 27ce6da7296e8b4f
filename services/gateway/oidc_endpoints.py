"""Routes of the sign-in through the organization's identity provider (services/gateway/oidc.py)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.gateway.deps import OidcServiceDep, OptionalPrincipal
from services.gateway.oidc import LOGIN
from services.gateway.schemas import (
    OidcAuthorization,
    OidcCompletion,
    OidcLogout,
    ReauthenticationRedeem,
    ReauthenticationRedeemed,
)
from services.kit.auth import InternalCaller
from services.kit.errors import BadRequest

oidc_router = APIRouter(prefix="/api/v1/auth/oidc", tags=["auth"])
oidc_internal_router = APIRouter(tags=["internal"], dependencies=[InternalCaller])
CALLBACK = "/api/v1/auth/oidc/callback"
MAX_CONTEXT_CHARS = 4000


def _context(raw: str | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("context must be a JSON object of strings") from exc
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest("context must be a JSON object of strings")
    return value


@oidc_router.get(
    "/login",
    response_model=OidcAuthorization,
    responses={302: {"description": "To the identity provider (unless `Accept: application/json`)"}},
)
async def oidc_login(
    request: Request,
    oidc: OidcServiceDep,
    principal: OptionalPrincipal,
    redirect_uri: Annotated[str | None, Query(max_length=500)] = None,
    purpose: Annotated[str, Query(max_length=16)] = LOGIN,
    binding: Annotated[str | None, Query(max_length=64)] = None,
    context: Annotated[str | None, Query(max_length=MAX_CONTEXT_CHARS)] = None,
) -> Response | OidcAuthorization:
    """Start the authorization code flow (PKCE S256, state, nonce). An API client is redirected to
    the provider and comes back to `/api/v1/auth/oidc/callback`, which answers Clearpost's tokens;
    with `Accept: application/json` the URL is answered instead. `purpose=signing` (with the
    signer's bearer token and the decision's `binding`) re-authenticates for one signature."""
    target = redirect_uri or str(request.url_for("oidc_callback"))
    url, state, expires_at = await oidc.start(
        redirect_uri=target, purpose=purpose, principal=principal, binding=binding, context=_context(context)
    )
    if "application/json" in request.headers.get("accept", ""):
        return OidcAuthorization(authorization_url=url, state=state, expires_at=expires_at)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@oidc_router.get("/callback", response_model=OidcCompletion, response_model_exclude_none=True)
async def oidc_callback(
    request: Request,
    oidc: OidcServiceDep,
    principal: OptionalPrincipal,
    response: Response,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> OidcCompletion:
    """The provider sends the browser here (or the review UI relays `code` and `state`): the state
    is taken once, the code exchanged with the PKCE verifier and the ID token checked."""
    response.headers["Cache-Control"] = "no-store"
    address = request.client.host if request.client else None
    done = await oidc.complete(state=state, code=code, error=error, principal=principal, address=address)
    if done.tokens is not None:
        return OidcCompletion(purpose="login", context=done.context, **done.tokens.model_dump())
    proof = done.proof
    return OidcCompletion(
        purpose="signing",
        reauthentication=proof.handle if proof else None,
        reauthentication_expires_in=proof.expires_in if proof else None,
        context=done.context,
    )


@oidc_router.post("/backchannel-logout", status_code=200)
async def oidc_backchannel_logout(
    oidc: OidcServiceDep,
    response: Response,
    logout_token: Annotated[str, Form(min_length=1, max_length=8192)],
) -> dict[str, str]:
    """OpenID Connect Back-Channel Logout 1.0: the provider says a user's session ended; every
    Clearpost sign-in of that user ends within the revocation list's refresh time."""
    response.headers["Cache-Control"] = "no-store"
    await oidc.backchannel_logout(logout_token)
    return {"status": "logged_out"}


@oidc_router.get("/logout", response_model=OidcLogout)
async def oidc_logout(
    oidc: OidcServiceDep, post_logout_redirect_uri: Annotated[str, Query(min_length=1, max_length=500)]
) -> OidcLogout:
    """RP-initiated logout: where to send the browser so the provider ends its session too."""
    return OidcLogout(end_session_url=await oidc.end_session_url(post_logout_redirect_uri))


@oidc_internal_router.post(
    "/internal/v1/signing-reauthentications/redeem", response_model=ReauthenticationRedeemed
)
async def redeem_reauthentication(
    body: ReauthenticationRedeem, oidc: OidcServiceDep
) -> ReauthenticationRedeemed:
    """The review service's single use of a signing re-authentication, for this user and decision."""
    done = await oidc.redeem(handle=body.handle, user_id=body.user_id, binding=body.binding)
    return ReauthenticationRedeemed(method="oidc", auth_time=done.auth_time, acr=done.acr, amr=done.amr)
