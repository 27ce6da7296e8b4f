from __future__ import annotations

from pydantic import Field

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

    @property
    def database_url(self) -> str:
        return self.gateway_database_url or self.default_database_url("gateway")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("gateway", self.database_url)


def get_settings() -> GatewaySettings:
    return GatewaySettings()
