from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from services.gateway.access_review import as_csv
from services.gateway.deps import AccessReviewServiceDep, AdminDep, AuthServiceDep, UserServiceDep
from services.gateway.models import User
from services.gateway.proxy import ROUTES, ForwardEveryMethod, RefuseEveryMethod
from services.gateway.revocations import read_revocations
from services.gateway.schemas import (
    AccessReview,
    AccessToken,
    Jwks,
    Me,
    Revocation,
    RevocationList,
    TokenRequest,
    TokenRevocation,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from services.gateway.service import OFFLINE_SCOPE, REFRESH_FAILED
from services.gateway.throttles import LoginLocked
from services.kit.app import ErrorBody
from services.kit.auth import REVOCATIONS_PATH, CurrentPrincipal, InternalCaller
from services.kit.deps import SessionDep
from services.kit.errors import BadRequest, error_body

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])
proxy_router = APIRouter(tags=["proxy"])
internal_router = APIRouter(tags=["internal"], dependencies=[InternalCaller])


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=list(user.roles),
        active=user.active,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "RFC 6749 §5.2: `invalid_request` (a parameter the grant needs is missing) or"
        " `unsupported_grant_type`",
    },
    401: {
        "model": ErrorBody,
        "description": "Wrong username or password, or an unknown, spent or expired refresh token"
        " (`invalid_grant`)",
    },
    429: {"model": ErrorBody, "description": "Too many failed sign-ins: the account or address is locked"},
}


@auth_router.post(
    "/token", response_model=AccessToken, response_model_exclude_none=True, responses=TOKEN_RESPONSES
)
async def issue_token(
    request: Request,
    auth: AuthServiceDep,
    response: Response,
    form: Annotated[TokenRequest, Form()],
) -> AccessToken | JSONResponse:
    """OAuth 2 token endpoint (form-encoded).

    `grant_type=password` (the default) with `username` and `password`; add `scope=offline_access`
    to get a refresh token too. `grant_type=refresh_token` with `refresh_token`: a new access token
    and a new refresh token (the old one is spent).
    """
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    if form.grant_type == "password":
        if form.username is None or form.password is None:
            raise BadRequest("username and password are required", code="invalid_request")
        # Behind a trusted proxy (the review service, a load balancer) uvicorn has already put the
        # original client's address here from X-Forwarded-For (--forwarded-allow-ips).
        address = request.client.host if request.client else None
        try:
            return await auth.login(
                form.username,
                form.password,
                offline=OFFLINE_SCOPE in form.scope.split(),
                address=address,
            )
        except LoginLocked as exc:
            # Answered, not raised: the audit of the refusal is already written.
            return JSONResponse(
                error_body(exc.code, exc.detail),
                status_code=exc.status_code,
                headers={"Cache-Control": "no-store", "Retry-After": str(exc.retry_after)},
            )
    if form.grant_type == "refresh_token":
        if form.refresh_token is None:
            raise BadRequest("refresh_token is required", code="invalid_request")
        tokens = await auth.refresh(form.refresh_token)
        if tokens is None:
            # Answered, not raised: a refusal may have revoked a token family, which must be kept.
            return JSONResponse(
                error_body("invalid_grant", REFRESH_FAILED),
                status_code=401,
                headers={"Cache-Control": "no-store", "WWW-Authenticate": "Bearer"},
            )
        return tokens
    raise BadRequest(f"grant_type {form.grant_type!r} is not supported", code="unsupported_grant_type")


@auth_router.post("/revoke", status_code=200)
async def revoke_token(
    auth: AuthServiceDep, token: Annotated[str, Form(min_length=1, max_length=256)]
) -> dict[str, str]:
    """RFC 7009: revoke a refresh token (and every token of its sign-in). Unknown tokens are fine."""
    await auth.revoke(token)
    return {"status": "revoked"}


@auth_router.get("/jwks", response_model=Jwks)
async def jwks(request: Request) -> Jwks:
    """Every public key of the gateway's ring: the current one and each retired one with its
    `retired_at`, so tokens signed before a rotation keep verifying until they expire (revoked keys
    are not listed)."""
    return Jwks(keys=list((await request.app.state.key_set.keys()).values()))


@auth_router.get("/me", response_model=Me)
async def me(principal: CurrentPrincipal, auth: AuthServiceDep) -> Me:
    return await auth.me(principal)


@users_router.get("", response_model=UserList)
async def list_users(_: AdminDep, users: UserServiceDep) -> UserList:
    return UserList(users=[_user_out(u) for u in await users.list()])


@users_router.get(
    "/access-review",
    response_model=AccessReview,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with `?format=csv`"}},
)
async def access_review(
    admin: AdminDep, reviews: AccessReviewServiceDep, format: Literal["json", "csv"] = "json"
) -> AccessReview | Response:
    """Every user, their roles and where each came from (local, idp, scim), last sign-in and last
    signed decision; audited."""
    report = await reviews.run(admin, output=format)
    if format == "csv":
        return Response(
            as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="clearpost-access-review.csv"'},
        )
    return report


@users_router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, admin: AdminDep, users: UserServiceDep) -> UserOut:
    return _user_out(await users.create(body, actor=admin))


@users_router.patch("/{user_id}", response_model=UserOut)
async def update_user(user_id: str, body: UserUpdate, admin: AdminDep, users: UserServiceDep) -> UserOut:
    return _user_out(await users.update(user_id, body, actor=admin))


@internal_router.get(REVOCATIONS_PATH, response_model=RevocationList)
async def revocations(session: SessionDep) -> RevocationList:
    """Deactivated users, and users whose older tokens carry a role the identity provider took away:
    every service refuses those access tokens (services/kit/auth.py)."""
    listed = await read_revocations(session)
    return RevocationList(
        revoked=[Revocation(user_id=k, deactivated_at=v) for k, v in listed.deactivated.items()],
        tokens_revoked=[TokenRevocation(user_id=k, before=v) for k, v in listed.tokens_before.items()],
    )


# Every method reaches the proxy, which refuses those a proxied path does not declare (405, Allow).
# The endpoints are ASGI apps, which Starlette runs as such whatever the method (its signature names
# only request endpoints).
for _prefix in ROUTES:
    for _path in (_prefix, _prefix + "/{rest:path}"):
        proxy_router.add_route(_path, ForwardEveryMethod(), include_in_schema=False)  # type: ignore[arg-type]
for _path in ("/internal", "/internal/{rest:path}"):
    proxy_router.add_route(_path, RefuseEveryMethod(), include_in_schema=False)  # type: ignore[arg-type]
