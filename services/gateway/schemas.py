from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ROLES = frozenset({"author", "legal", "compliance", "medical", "publisher", "auditor", "admin"})
MIN_PASSWORD_CHARS = 12
# Argon2 hashes any length, but an unbounded password is a free CPU/memory lever for a caller.
MAX_PASSWORD_CHARS = 1024
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._@+-]*$"


def _normalize_username(value: str) -> str:
    return value.strip().lower()


def _validate_roles(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; allowed: {', '.join(sorted(ROLES))}")
    return sorted(set(value))


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
    roles: list[str] = Field(min_length=1, max_length=len(ROLES))

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
    def _roles(cls, value: list[str]) -> list[str]:
        return _validate_roles(value)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[str] | None = Field(default=None, min_length=1, max_length=len(ROLES))
    active: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("display_name must not be blank")
        return value.strip() if value is not None else None

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str] | None) -> list[str] | None:
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


class AccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    # Only when asked for with scope `offline_access` (password grant) or on a refresh grant.
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class Jwks(BaseModel):
    keys: list[dict[str, Any]]
