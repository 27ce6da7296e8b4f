from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from services.gateway.deps import AdminDep, AuthServiceDep, ProxyDep, UserServiceDep
from services.gateway.models import User
from services.gateway.proxy import METHODS, ROUTES
from services.gateway.schemas import AccessToken, Jwks, Me, UserCreate, UserList, UserOut, UserUpdate
from services.kit.auth import CurrentPrincipal
from services.kit.errors import NotFound

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])
proxy_router = APIRouter(tags=["proxy"])


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


@auth_router.post("/token", response_model=AccessToken)
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], auth: AuthServiceDep, response: Response
) -> AccessToken:
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    return await auth.login(form.username, form.password)


@auth_router.get("/jwks", response_model=Jwks)
async def jwks(request: Request) -> Jwks:
    return Jwks(keys=[request.app.state.signing_key.public_jwk])


@auth_router.get("/me", response_model=Me)
async def me(principal: CurrentPrincipal, auth: AuthServiceDep) -> Me:
    return await auth.me(principal)


@users_router.get("", response_model=UserList)
async def list_users(_: AdminDep, users: UserServiceDep) -> UserList:
    return UserList(users=[_user_out(u) for u in await users.list()])


@users_router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, admin: AdminDep, users: UserServiceDep) -> UserOut:
    return _user_out(await users.create(body, actor=admin))


@users_router.patch("/{user_id}", response_model=UserOut)
async def update_user(user_id: str, body: UserUpdate, admin: AdminDep, users: UserServiceDep) -> UserOut:
    return _user_out(await users.update(user_id, body, actor=admin))


async def forward(request: Request, proxy: ProxyDep) -> Response:
    return await proxy.forward(request)


async def refuse_internal() -> Response:
    # Service-to-service routes are reachable only on the internal network, never through here.
    raise NotFound("no such route")


for _prefix in ROUTES:
    proxy_router.add_api_route(_prefix, forward, methods=METHODS, include_in_schema=False)
    proxy_router.add_api_route(_prefix + "/{rest:path}", forward, methods=METHODS, include_in_schema=False)
proxy_router.add_api_route("/internal", refuse_internal, methods=METHODS, include_in_schema=False)
proxy_router.add_api_route("/internal/{rest:path}", refuse_internal, methods=METHODS, include_in_schema=False)
