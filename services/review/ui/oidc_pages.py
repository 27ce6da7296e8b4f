"""Signing in, signing decisions and signing out through the organization's identity provider.

The gateway is the one door to the provider (services/gateway/oidc.py): it keeps the state,
nonce and PKCE verifier, exchanges the code and checks the ID token. The UI starts a request,
keeps its `state` in a cookie of this browser (so a callback started in another browser is not
taken here) and relays the provider's answer. The provider sends the browser back cross-site, so
the session cookie (SameSite=Strict) is not sent with that request: the callback answers a page
of our own that continues to `/login/oidc/finish`, a same-site request that carries it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.kit.clock import utcnow
from services.kit.credentials import decision_binding
from services.kit.errors import BadRequest, ClearpostError
from services.review.deps import ReviewServiceDep
from services.review.schemas import DecisionIn
from services.review.ui.deps import ClaimServiceDep, UiRoute, UiSessionsDep, UiStateDep
from services.review.ui.presenters import DECISION_LABELS, SIGNATURE_MEANINGS
from services.review.ui.render import page, redirect, safe_next
from services.review.ui.security import (
    SESSION_COOKIE,
    UI_PREFIX,
    is_https,
    public_origin,
    tokens_match,
)
from services.review.ui.sessions import SessionEnded, SignedIn
from services.review.ui.upstream import IssuedTokens

router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)
STATE_COOKIE = "clearpost_review_oidc"
CALLBACK_PATH = f"{UI_PREFIX}/login/oidc/callback"


def sso_enabled(request: Request) -> bool:
    return bool(getattr(request.app.state.settings, "oidc_issuer", None))


def callback_uri(request: Request) -> str:
    return f"{public_origin(request)}{CALLBACK_PATH}"


def to_provider(request: Request, url: str, state: str) -> Response:
    response = redirect(url)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path=UI_PREFIX,
    )
    return response


async def start_signing(
    request: Request,
    ui: UiStateDep,
    signed: SignedIn,
    *,
    draft_id: str,
    version: int,
    stage: str,
    decision: str,
    content_hash: str,
    reason: str,
) -> Response:
    """Send an SSO signer to the provider to authenticate again for this one decision."""
    binding = decision_binding(draft_id=draft_id, version=version, content_hash=content_hash, stage=stage)
    context = {
        "kind": "decision",
        "draft_id": draft_id,
        "stage": stage,
        "decision": decision,
        "content_hash": content_hash,
        "reason": reason,
    }
    url, state = await ui.identity.oidc_start(
        redirect_uri=callback_uri(request), token=signed.token, binding=binding, context=context
    )
    return to_provider(request, url, state)


@router.get("/login/oidc")
async def oidc_login(
    request: Request,
    ui: UiStateDep,
    next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/review/",
) -> Response:
    """ "Sign in with your organization": to the provider, and back to `next`."""
    if not sso_enabled(request):
        raise BadRequest("sign-in through an identity provider is not configured")
    url, state = await ui.identity.oidc_start(
        redirect_uri=callback_uri(request), context={"kind": "login", "next": safe_next(next_url)}
    )
    return to_provider(request, url, state)


@router.get("/login/oidc/callback")
async def oidc_callback(request: Request) -> Response:
    """Where the provider sends the browser back: continue same-site, so every cookie comes along."""
    target = f"{UI_PREFIX}/login/oidc/finish?{request.url.query}"
    body = page(request, "oidc_continue.html", {"target": target})
    assert isinstance(body, HTMLResponse)
    body.headers["Refresh"] = f"0; url={target}"
    body.headers["Cache-Control"] = "no-store"
    return body


@router.get("/login/oidc/finish")
async def oidc_finish(
    request: Request,
    ui: UiStateDep,
    sessions: UiSessionsDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if not tokens_match(state, request.cookies.get(STATE_COOKIE, "")):
        raise BadRequest("this sign-in was not started in this browser; start again", code="invalid_state")
    done = await ui.identity.oidc_complete(code=code, state=state, error=error)
    context = done.get("context") or {}
    if done.get("purpose") == "signing":
        response = await _sign(request, sessions, review, claims, ui, context, str(done["reauthentication"]))
    else:
        tokens = IssuedTokens(str(done["access_token"]), int(done["expires_in"]), done.get("refresh_token"))
        secret, signed = await sessions.start_with(tokens, utcnow())
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            try:
                await sessions.end(await sessions.current(old, utcnow()))
            except SessionEnded:
                pass
        response = redirect(safe_next(context.get("next")))
        response.set_cookie(
            SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=is_https(request), path=UI_PREFIX
        )
        request.state.signed_in = signed
    response.delete_cookie(STATE_COOKIE, path=UI_PREFIX)
    return response


async def _sign(
    request: Request,
    sessions: UiSessionsDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
    ui: UiStateDep,
    context: dict[str, str],
    reauthentication: str,
) -> Response:
    signed = await sessions.current(request.cookies.get(SESSION_COOKIE), utcnow())
    request.state.signed_in = signed
    draft_id, stage = context["draft_id"], context["stage"]
    data = DecisionIn(
        stage=stage,
        decision=context["decision"],
        reason=context.get("reason", ""),
        content_hash=context["content_hash"],
        reauthentication=reauthentication,
    )
    try:
        decided = await review.decide(draft_id, data, signed.principal)
    except ClearpostError as exc:
        draft = await ui.user_api.draft(signed.token, draft_id)
        return page(
            request,
            "refused.html",
            {"draft": draft, "stage": stage, "seen_hash": data.content_hash, "detail": exc.detail},
            status_code=exc.status_code if 400 <= exc.status_code < 500 else 409,
        )
    await claims.release(draft_id, stage, signed.principal, utcnow())
    draft = await ui.user_api.draft(signed.token, draft_id)
    return page(
        request,
        "signed.html",
        {
            "draft": draft,
            "decision": decided,
            "label": DECISION_LABELS[data.decision],
            "meaning": SIGNATURE_MEANINGS[data.decision],
            "reason": data.reason,
            "signer": signed.principal,
            "method": "your organization's identity provider",
        },
    )


async def end_session_url(request: Request, ui: UiStateDep, signed: SignedIn) -> str | None:
    """RP-initiated logout: the provider's end-session URL for an SSO user, back to the sign-in page."""
    if not signed.principal.sso or not sso_enabled(request):
        return None
    return await ui.identity.oidc_logout_url(f"{public_origin(request)}{UI_PREFIX}/login")
