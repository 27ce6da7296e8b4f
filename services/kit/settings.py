"""Settings every service shares. Each service's `config.py` extends `KitSettings`."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from services.kit.keyfiles import own_keys_dir

SERVICE_NAMES = ("gateway", "drafts", "review", "publisher", "audit")


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARPOST_", extra="ignore")

    var_dir: Path = Path("var")
    # A folder of files named for settings (CLEARPOST_PAYLOAD_KEY, CLEARPOST_DATABASE_URL, ...), each
    # holding that setting's value: a mounted Kubernetes Secret, or compose's /run/secrets. Every
    # setting can come from there; the environment still wins. Read from the environment only.
    # Several folders are separated by ":" (the shared secrets, then the process's own).
    secrets_dir: Path | None = None
    # This process's own key folder (its signing key ring, a mounted Secret) instead of
    # var/keys/<service>/: set only for a process of one service (a pod, a container), so that its
    # API and worker processes, and every replica, sign with the same keys.
    own_keys_dir: Path | None = None
    # One database server for every service (e.g. postgresql+asyncpg://127.0.0.1:5432/clearpost);
    # each service then lives in its own schema, `<db_schema_prefix><service>`, with its own
    # Alembic version table. CLEARPOST_<SERVICE>_DATABASE_URL still overrides one service.
    shared_database_url: str | None = Field(default=None, validation_alias="CLEARPOST_DATABASE_URL")
    db_schema_prefix: str = "clearpost_"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    # Production (docs/security.md, "Temporal in production"): mutual TLS to the Temporal frontend
    # (a client certificate per service, the CA that signed the server's) and the bearer token the
    # server's authorizer maps to namespace permissions. Unset, the client speaks plain gRPC, as to
    # the embedded dev server on loopback.
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key_file: Path | None = None
    # The address `clearpost serve` listens on; unset, the host of the service's own URL (loopback
    # under `make run`). In a container: 0.0.0.0, while CLEARPOST_<SERVICE>_URL names the Service.
    bind_host: str | None = None
    # A worker-only process (`clearpost worker [SERVICE]`) answers /healthz, /readyz and /metrics on
    # this port (services/kit/ops_listener.py), for a cluster's probes and Prometheus; unset, none.
    worker_health_port: int | None = Field(default=None, ge=1, le=65535)
    gateway_url: str = "http://127.0.0.1:8000"
    drafts_url: str = "http://127.0.0.1:8001"
    review_url: str = "http://127.0.0.1:8002"
    publisher_url: str = "http://127.0.0.1:8003"
    audit_url: str = "http://127.0.0.1:8004"
    # Where the other services reach the gateway's /internal routes: its internal listener
    # (CLEARPOST_GATEWAY_INTERNAL_PORT, off the public port) in a cluster; unset, its own URL.
    gateway_internal_url: str | None = None
    jwt_issuer: str = "clearpost-gateway"
    jwt_audience: str = "clearpost"
    # This process's own credential for other services' /internal routes (each service has its
    # own); generated under var/keys/<service>/ on first use unless given here (or through a
    # secrets file mounted into env).
    internal_token: str | None = None
    # The services whose calls this one accepts on /internal routes: service -> SHA-256 (hex) of
    # that service's internal token. Unset (one machine, `make run`), each service publishes the
    # digest of its token under var/keys/internal-callers/ and the others read them from there.
    internal_callers: dict[str, str] = {}
    # AES-256 key (base64) for Temporal payloads; generated under var/keys/ when not given.
    payload_key: str | None = None
    # Keys payloads were encrypted with before a rotation (base64 each): still read, never written.
    payload_previous_keys: list[str] = []
    demo: bool = False
    # Off in tests that exercise one service's HTTP API without a Temporal server.
    temporal_enabled: bool = True
    # The scrape credential every service's /metrics asks for (services/kit/metrics.py); unset, the
    # services of one machine share var/keys/metrics-token (created once, mode 0600).
    metrics_token: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"  # json | text

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the files in CLEARPOST_SECRETS_DIR."""
        folders = [f for f in os.environ.get("CLEARPOST_SECRETS_DIR", "").split(os.pathsep) if f]
        if folders:
            # Several folders (`shared:own`, as docs/deploy.md mounts them): a later one wins.
            file_secret_settings = SecretsSettingsSource(settings_cls, secrets_dir=folders)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    def service_url(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")

    def gateway_internal(self) -> str:
        """The base URL of the gateway's /internal routes."""
        return (self.gateway_internal_url or self.gateway_url).rstrip("/")

    def bind_address(self, service: str) -> tuple[str, int]:
        parts = urlsplit(self.service_url(service))
        return self.bind_host or parts.hostname or "127.0.0.1", parts.port or 80

    @cached_property
    def keys_dir(self) -> Path:
        """var/keys/: what every Temporal client shares (the payload key) and one folder a service."""
        path = self.var_dir / "keys"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def service_keys_dir(self, service: str) -> Path:
        """var/keys/<service>/ (mode 0700): the keys and credentials only that service reads.

        Files an earlier release kept in var/keys/ itself move in here the first time.
        CLEARPOST_OWN_KEYS_DIR, where set, is this process's folder instead."""
        if service not in SERVICE_NAMES:
            raise ValueError(f"unknown service {service!r}")
        if self.own_keys_dir is not None:
            return self.own_keys_dir
        return own_keys_dir(self.keys_dir, service)

    def default_database_url(self, service: str) -> str:
        if self.shared_database_url:
            return self.shared_database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.var_dir / f'{service}.db').as_posix()}"

    def schema_for(self, service: str, url: str) -> str | None:
        """PostgreSQL keeps each service in its own schema; SQLite gives each its own file."""
        return f"{self.db_schema_prefix}{service}" if url.startswith("postgresql") else None
