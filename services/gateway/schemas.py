from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

Role = Literal[
    "author", "legal", "compliance", "medical", "publisher", "auditor", "admin", "crisis", "pharmacovigilance"
]
ROLES = frozenset(
    {
        "author",
        "legal",
        "compliance",
        "medical",
        "publisher",
        "auditor",
        "admin",
        "crisis",
        "pharmacovigilance",
    }
)
MIN_PASSWORD_CHARS = 12
# Argon2 hashes any length, but an unbounded password is a free CPU/memory lever for a caller.
MAX_PASSWORD_CHARS = 1024
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@+-]*$"


def _normalize_username(value: str) -> str:
    return value.strip().lower()


def _known_roles(value: Any) -> Any:
    # Before type validation, so an unknown role is named plainly (the schema enumerates them).
    if isinstance(value, list):
        unknown = sorted({str(v) for v in value} - ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ROLES))}")
    return value


def _validate_roles(value: list[Role]) -> list[Role]:
    return sorted(set(value))


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
    roles: list[Role] = Field(min_length=1, max_length=len(ROLES))

    @field_validator("roles", mode="before")
    @classmethod
    def _roles_known(cls, value: Any) -> Any:
        return _known_roles(value)

    @field_validator("username", mode="before")
    @classmethod
    def _username(cls, value: Any) -> Any:
        return _normalize_username(value) if isinstance(value, str) else value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("display_name must not be blank")
        return value.strip()

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[Role]) -> list[Role]:
        return _validate_roles(value)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=len(ROLES))
    # JSON true/false only: `"active": 0` is a 422, not false.
    active: StrictBool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("display_name must not be blank")
        return value.strip() if value is not None else None

    @field_validator("roles", mode="before")
    @classmethod
    def _roles_known(cls, value: Any) -> Any:
        return _known_roles(value)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[Role] | None) -> list[Role] | None:
        return _validate_roles(value) if value is not None else None


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class UserList(BaseModel):
    users: list[UserOut]


class Me(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[str]


# RFC 6749: the two grants the token endpoint answers and what each needs (§4.3.2, §6). The form
# below carries the union of their parameters; these say which ones each grant requires, so that
# every schema-valid request names a grant and all of its parameters.
PASSWORD_GRANT: dict[str, Any] = {
    "title": "Password grant (RFC 6749 §4.3.2)",
    "properties": {"grant_type": {"enum": ["password"]}},
    "required": ["username", "password"],
}
REFRESH_GRANT: dict[str, Any] = {
    "title": "Refresh token grant (RFC 6749 §6)",
    "properties": {"grant_type": {"enum": ["refresh_token"]}},
    "required": ["grant_type", "refresh_token"],
}


class TokenRequest(BaseModel):
    """The token endpoint's form (`application/x-www-form-urlencoded`), one grant per request.

    A grant's missing parameter is answered 400 `invalid_request` and an unknown `grant_type` 400
    `unsupported_grant_type` (RFC 6749 §5.2), not by validation here; unrecognized parameters are
    ignored (§3.2). An empty field counts as missing.
    """

    model_config = ConfigDict(json_schema_extra={"oneOf": [PASSWORD_GRANT, REFRESH_GRANT]})

    grant_type: str = Field(
        default="password",
        max_length=32,
        json_schema_extra={"enum": ["password", "refresh_token"]},
        description="`password` (the default) or `refresh_token`",
    )
    username: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=256)
    password: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=1024)
    scope: str = Field(
        default="",
        max_length=256,
        description="space-separated; `offline_access` asks a password grant for a refresh token too",
    )
    refresh_token: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=256)


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    # Only when asked for with scope `offline_access` (password grant) or on a refresh grant.
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


# --- SCIM 2.0 (RFC 7643 / 7644): the identity provider's view of users ----------------------------

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimMeta(BaseModel):
    resourceType: str = "User"
    created: datetime
    lastModified: datetime
    location: str


class ScimName(BaseModel):
    formatted: str


class ScimUser(BaseModel):
    schemas: list[str] = Field(default_factory=lambda: [SCIM_USER])
    id: str
    userName: str
    displayName: str
    name: ScimName
    active: bool
    meta: ScimMeta


class ScimListResponse(BaseModel):
    schemas: list[str] = Field(default_factory=lambda: [SCIM_LIST])
    totalResults: int
    startIndex: int
    itemsPerPage: int
    Resources: list[ScimUser]


# Clearpost takes one attribute from a provider: `active`. Providers differ in case and in sending
# booleans as strings; the schema says exactly what is accepted.
ScimOp = Literal["replace", "Replace", "REPLACE", "add", "Add", "ADD"]
# JSON booleans only, or those strings: never 0 or 1 (a number is not a boolean in SCIM either).
ScimBool = StrictBool | Literal["true", "false", "True", "False"]


class ScimActive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: ScimBool


class ScimPathOperation(BaseModel):
    """`{"op": "replace", "path": "active", "value": false}`"""

    model_config = ConfigDict(extra="forbid")

    op: ScimOp
    path: Literal["active"]
    value: ScimBool


class ScimValueOperation(BaseModel):
    """`{"op": "replace", "value": {"active": false}}`"""

    model_config = ConfigDict(extra="forbid")

    op: ScimOp
    value: ScimActive


class ScimPatchOp(BaseModel):
    schemas: list[Literal["urn:ietf:params:scim:api:messages:2.0:PatchOp"]] = Field(
        min_length=1, max_length=1
    )
    Operations: list[ScimPathOperation | ScimValueOperation] = Field(min_length=1, max_length=32)


class Revocation(BaseModel):
    user_id: str
    deactivated_at: datetime


class TokenRevocation(BaseModel):
    """Access tokens of this user issued until `before` are refused (the provider took a role away)."""

    user_id: str
    before: datetime


class RevocationList(BaseModel):
    revoked: list[Revocation]
    tokens_revoked: list[TokenRevocation] = []


# --- the organization's identity provider (OpenID Connect) ------------------------------------------


class OidcAuthorization(BaseModel):
    """Where to send the browser: the provider's authorization URL for one pending request."""

    authorization_url: str
    state: str
    expires_at: datetime


class OidcCompletion(BaseModel):
    """A finished request: Clearpost's tokens for a sign-in, or a one-time signing proof."""

    purpose: Literal["login", "signing"]
    access_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    # Signing: hand this to the review service with the decision (valid `reauthentication_expires_in`).
    reauthentication: str | None = None
    reauthentication_expires_in: int | None = None
    # What the starter of the request asked to get back (e.g. the review UI's pending decision).
    context: dict[str, str] | None = None


class OidcLogout(BaseModel):
    """The provider's end-session URL (RP-initiated logout), or null when it offers none."""

    end_session_url: str | None


class ReauthenticationRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(min_length=16, max_length=128)
    user_id: str = Field(min_length=1, max_length=36)
    binding: str = Field(pattern=r"^[0-9a-f]{64}$")


class ReauthenticationRedeemed(BaseModel):
    method: Literal["oidc"]
    auth_time: datetime
    acr: str | None
    amr: list[str]


# --- SCIM 2.0 Groups: the provider's groups, whose names the role map turns into roles ---------

SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class ScimMember(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str = Field(min_length=1, max_length=36)
    display: str | None = Field(default=None, max_length=200)


class ScimGroupIn(BaseModel):
    """POST or PUT /scim/v2/Groups: a group and its members (users by their SCIM id)."""

    model_config = ConfigDict(extra="ignore")

    schemas: list[str] = Field(default_factory=lambda: [SCIM_GROUP], max_length=4)
    displayName: str = Field(min_length=1, max_length=200)
    externalId: str | None = Field(default=None, max_length=200)
    members: list[ScimMember] = Field(default_factory=list, max_length=10_000)


class ScimGroupMeta(BaseModel):
    resourceType: str = "Group"
    created: datetime
    lastModified: datetime
    location: str


class ScimGroupOut(BaseModel):
    schemas: list[str] = Field(default_factory=lambda: [SCIM_GROUP])
    id: str
    displayName: str
    externalId: str | None = None
    members: list[ScimMember]
    meta: ScimGroupMeta


class ScimGroupList(BaseModel):
    schemas: list[str] = Field(default_factory=lambda: [SCIM_LIST])
    totalResults: int
    startIndex: int
    itemsPerPage: int
    Resources: list[ScimGroupOut]


class ScimGroupOperation(BaseModel):
    """RFC 7644 §3.5.2 on a group: `add`/`remove`/`replace` of `members` (or a `members[value eq
    "<id>"]` path to remove one), or `replace` of `displayName`."""

    model_config = ConfigDict(extra="forbid")

    op: Literal["add", "Add", "ADD", "remove", "Remove", "REMOVE", "replace", "Replace", "REPLACE"]
    path: str | None = Field(default=None, max_length=300)
    value: Any = None


class ScimGroupPatch(BaseModel):
    schemas: list[Literal["urn:ietf:params:scim:api:messages:2.0:PatchOp"]] = Field(
        min_length=1, max_length=1
    )
    Operations: list[ScimGroupOperation] = Field(min_length=1, max_length=64)


class AccessReviewRole(BaseModel):
    role: str
    # `local` (an admin gave it), `idp` (the provider's groups at sign-in) or `scim` (pushed groups).
    source: str


class AccessReviewEntry(BaseModel):
    id: str
    username: str
    display_name: str
    active: bool
    sign_in: Literal["local", "idp"]
    roles: list[AccessReviewRole]
    idp_groups: list[str]
    last_sign_in_at: datetime | None
    last_sign_in_method: str | None
    deactivated_at: datetime | None
    # The last decision they signed (the review service's record): when, and what it judged.
    last_decision_at: datetime | None = None
    last_decision: str | None = None  # "approve legal on draft <id> v<n>"


class AccessReview(BaseModel):
    """Every user, their roles and where each came from, and when they last signed in."""

    generated_at: datetime
    users: list[AccessReviewEntry]
