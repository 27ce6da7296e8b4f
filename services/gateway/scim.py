"""SCIM 2.0 `/scim/v2/Users` (RFC 7644) for the organization's identity provider: offboarding.

The provider authenticates with its own bearer credential (CLEARPOST_GATEWAY_SCIM_TOKEN, else
var/keys/gateway/scim-token, created once with mode 0600), compared in constant time. It can list and
read users and deactivate them (`PATCH` with `active=false`, or `DELETE`); an account is never
removed, because the audit trail names it. Deactivation goes through the same UserService as the
admin API, so its effects are the same: refresh tokens revoked, the user listed as revoked for every
service, and the review service voiding their unpublished approvals.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from services.gateway.config import GatewaySettings
from services.gateway.deps import UserServiceDep
from services.gateway.models import User
from services.gateway.schemas import (
    SCIM_ERROR,
    ScimListResponse,
    ScimMeta,
    ScimName,
    ScimPatchOp,
    ScimUser,
    ScimValueOperation,
    UserUpdate,
)
from services.kit.app import ErrorBody
from services.kit.errors import BadRequest, ClearpostError, Unauthorized, UnsupportedMediaType
from services.kit.keyfiles import new_token, read_or_create
from services.kit.tokens import Principal

SCIM_MEDIA_TYPE = "application/scim+json"
# What a request body may be sent as (RFC 7644 §3.1 names the first; providers send either).
SCIM_REQUEST_MEDIA_TYPES = (SCIM_MEDIA_TYPE, "application/json")
SCIM_ACTOR = Principal(user_id="system:scim", username="scim", name="SCIM provisioning")
# The one filter supported (RFC 7644 §3.4.2.2; attribute names and operators are case-insensitive).
FILTER_PATTERN = r'^\s*[uU][sS][eE][rR][nN][aA][mM][eE]\s+[eE][qQ]\s+"[^"]{1,200}"\s*$'
FILTER = re.compile(r'^\s*userName\s+eq\s+"([^"]{1,200})"\s*$', re.IGNORECASE)
MAX_PAGE = 200


def load_scim_token(settings: GatewaySettings) -> str:
    """The provider's credential: from settings, else var/keys/gateway/scim-token (created once, 0600)."""
    if settings.gateway_scim_token:
        return settings.gateway_scim_token
    return read_or_create(settings.service_keys_dir("gateway") / "scim-token", new_token).decode().strip()


def _scim_error(
    status: int, detail: Any, scim_type: str | None = None, code: str = "bad_request"
) -> JSONResponse:
    body: dict[str, Any] = {"schemas": [SCIM_ERROR], "status": str(status), "detail": detail, "error": code}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers)


class ScimJSONResponse(JSONResponse):
    media_type = SCIM_MEDIA_TYPE


class ScimError(BadRequest):
    def __init__(self, detail: str, scim_type: str) -> None:
        super().__init__(detail, code="invalid_scim_request")
        self.scim_type = scim_type


class ScimRoute(APIRoute):
    """Errors in the SCIM shape (RFC 7644 §3.12), which also carries Clearpost's `error`/`detail`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                _check_media_type(request)
                return await original(request)
            except ScimError as exc:
                return _scim_error(exc.status_code, exc.detail, exc.scim_type, exc.code)
            except ClearpostError as exc:
                return _scim_error(exc.status_code, exc.detail, None, exc.code)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return _scim_error(422, problems or "invalid request", "invalidSyntax", "invalid")

        return handler


def _check_media_type(request: Request) -> None:
    """415, saying what is accepted, for a body of any other media type."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in SCIM_REQUEST_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"SCIM request bodies are {' or '.join(SCIM_REQUEST_MEDIA_TYPES)}, not {given or 'unlabeled'}"
        )


# The PatchOp body as the OpenAPI document names it: under both media types it is taken as.
PATCH_OPENAPI: dict[str, Any] = {
    "requestBody": {"content": {SCIM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ScimPatchOp"}}}},
}
PATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorBody, "description": "The body is not application/scim+json or application/json"}
}


async def scim_caller(request: Request) -> None:
    expected: str = request.app.state.scim_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("the SCIM credential is missing or wrong")


scim_router = APIRouter(
    prefix="/scim/v2/Users",
    tags=["scim"],
    route_class=ScimRoute,
    dependencies=[Depends(scim_caller)],
    default_response_class=ScimJSONResponse,
)


def scim_user(user: User) -> ScimUser:
    return ScimUser(
        id=user.id,
        userName=user.username,
        displayName=user.display_name,
        name=ScimName(formatted=user.display_name),
        active=user.active,
        meta=ScimMeta(
            created=user.created_at, lastModified=user.updated_at, location=f"/scim/v2/Users/{user.id}"
        ),
    )


def _scim_json(model: ScimUser | ScimListResponse, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code, media_type=SCIM_MEDIA_TYPE)


def _active_from(value: bool | str) -> bool:
    return value if isinstance(value, bool) else value.lower() == "true"


def requested_active(patch: ScimPatchOp) -> bool:
    """The `active` value a PatchOp sets (the last operation wins, as RFC 7644 applies them in order)."""
    active = True
    for operation in patch.Operations:
        value = operation.value.active if isinstance(operation, ScimValueOperation) else operation.value
        active = _active_from(value)
    return active


@scim_router.get("", response_model=ScimListResponse)
async def list_scim_users(
    users: UserServiceDep,
    filter: Annotated[str | None, Query(max_length=300, pattern=FILTER_PATTERN)] = None,
    startIndex: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    count: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 100,
) -> JSONResponse:
    """Users, optionally `filter=userName eq "name"`; paged with startIndex (1-based) and count."""
    everyone = list(await users.list())
    if filter is not None:
        match = FILTER.match(filter)
        if match is None:
            raise ScimError('only the filter userName eq "<name>" is supported', "invalidFilter")
        everyone = [u for u in everyone if u.username == match.group(1).strip().lower()]
    page = everyone[startIndex - 1 : startIndex - 1 + count]
    return _scim_json(
        ScimListResponse(
            totalResults=len(everyone),
            startIndex=startIndex,
            itemsPerPage=len(page),
            Resources=[scim_user(u) for u in page],
        )
    )


@scim_router.get("/{user_id}", response_model=ScimUser)
async def get_scim_user(user_id: str, users: UserServiceDep) -> JSONResponse:
    return _scim_json(scim_user(await users.get(user_id)))


@scim_router.patch(
    "/{user_id}", response_model=ScimUser, openapi_extra=PATCH_OPENAPI, responses=PATCH_RESPONSES
)
async def patch_scim_user(user_id: str, patch: ScimPatchOp, users: UserServiceDep) -> JSONResponse:
    """RFC 7644 §3.5.2 PatchOp; `replace active=false` deactivates (and `true` reactivates)."""
    await users.get(user_id)
    user = await users.update(
        user_id, UserUpdate(active=requested_active(patch)), actor=SCIM_ACTOR, via="scim"
    )
    return _scim_json(scim_user(user))


@scim_router.delete("/{user_id}", status_code=204)
async def delete_scim_user(user_id: str, users: UserServiceDep) -> Response:
    """Deactivates: the account stays (the audit trail names it) but can do nothing any more."""
    await users.update(user_id, UserUpdate(active=False), actor=SCIM_ACTOR, via="scim")
    return Response(status_code=204)
