from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from services.gateway.schemas import ROLES
from services.kit.settings import KitSettings
from services.kit.tokens import MAX_ACCESS_TOKEN_SECONDS


class GatewaySettings(KitSettings):
    gateway_database_url: str | None = None
    # A second listener for the gateway's /internal routes (the revocation list the services
    # poll), e.g. 8010, reached by CLEARPOST_GATEWAY_INTERNAL_URL; with it set, /internal is not
    # answered on the public port (services/gateway/internal_listener.py). Unset: one port.
    gateway_internal_port: int | None = Field(default=None, ge=1, le=65535)
    # Every service refuses an access token that lives longer than MAX_ACCESS_TOKEN_SECONDS (1 h).
    gateway_token_ttl_seconds: int = Field(default=900, ge=30, le=MAX_ACCESS_TOKEN_SECONDS)
    # Refresh tokens (scope `offline_access`): the longest a sign-in lasts without the password.
    gateway_refresh_token_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=24 * 3600)
    # Seconds the proxy waits for an upstream to accept a connection / send the next chunk.
    gateway_upstream_connect_timeout: float = 5.0
    gateway_upstream_read_timeout: float = 60.0
    # How often the gateway reads each service's OpenAPI document again for the one at /openapi.json
    # (and for which methods each proxied path declares); every few seconds while one is missing.
    gateway_openapi_refresh_seconds: float = Field(default=300.0, ge=5.0)
    # The identity provider's bearer credential for /scim/v2 (else var/keys/gateway/scim-token, made once).
    gateway_scim_token: str | None = None
    # Failed password entries (sign-in and re-entry at signing) allowed per window before the
    # account (or the client address) is locked for `gateway_lockout_seconds`.
    gateway_max_failures_per_account: int = 5
    gateway_max_failures_per_address: int = 20
    gateway_failure_window_seconds: int = 15 * 60
    gateway_lockout_seconds: int = 15 * 60

    # --- the organization's identity provider (OpenID Connect; docs/identity.md) -------------------
    # The contract outside checks use: CLEARPOST_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET (or
    # _CLIENT_SECRET_FILE), _ROLE_CLAIM, _ROLE_MAP (JSON: group -> roles). No issuer, no OIDC.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_client_secret_file: Path | None = None
    oidc_role_claim: str = "groups"
    oidc_role_map: dict[str, list[str]] = {}
    oidc_scopes: str = "openid profile email"
    # The claim that names the Clearpost username of a user provisioned on first sign-in.
    oidc_username_claim: str = "preferred_username"
    # Where the provider may send the browser back; empty, the two Clearpost callback paths (the
    # API's and the review UI's) on whatever host the caller names. The provider checks the URI
    # against its own registration too.
    oidc_redirect_uris: list[str] = []
    # Signing re-authentication: the provider's auth_time may be at most this old, and the ID token
    # may be required to name one of these acr values / all of these amr values (e.g. ["mfa"]).
    oidc_signing_max_age_seconds: int = Field(default=300, ge=10, le=3600)
    oidc_signing_acr_values: list[str] = []
    oidc_signing_amr_values: list[str] = []
    # Local passwords: `all` users, or only `admins` (break-glass) once everyone else signs in
    # through the identity provider.
    local_passwords: Literal["all", "admins"] = "all"

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, roles in value.items():
            unknown = sorted(set(roles) - ROLES)
            if unknown:
                raise ValueError(
                    f"CLEARPOST_OIDC_ROLE_MAP: group {group!r} maps to unknown role(s) {unknown}"
                )
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    def oidc_secret(self) -> str | None:
        if self.oidc_client_secret:
            return self.oidc_client_secret
        if self.oidc_client_secret_file is not None:
            return self.oidc_client_secret_file.read_text().strip()
        return None

    @property
    def database_url(self) -> str:
        return self.gateway_database_url or self.default_database_url("gateway")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("gateway", self.database_url)


def get_settings() -> GatewaySettings:
    return GatewaySettings()
