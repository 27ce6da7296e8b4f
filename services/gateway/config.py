from __future__ import annotations

from services.kit.settings import KitSettings


class GatewaySettings(KitSettings):
    gateway_database_url: str | None = None
    gateway_token_ttl_seconds: int = 900
    # Refresh tokens (scope `offline_access`): the longest a sign-in lasts without the password.
    gateway_refresh_token_ttl_seconds: int = 8 * 3600
    # Seconds the proxy waits for an upstream to accept a connection / send the next chunk.
    gateway_upstream_connect_timeout: float = 5.0
    gateway_upstream_read_timeout: float = 60.0

    @property
    def database_url(self) -> str:
        return self.gateway_database_url or self.default_database_url("gateway")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("gateway", self.database_url)


def get_settings() -> GatewaySettings:
    return GatewaySettings()
