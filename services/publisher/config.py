from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.kit.sealing import KeyRing, load_key_ring
from services.kit.settings import KitSettings
from services.publisher.channels import ChannelConfigError, WebhookChannel, WebhookConfig
from services.publisher.networks import DEFAULT_API_URLS
from services.publisher.networks.base import NETWORKS, NetworkConfig
from services.publisher.oauth import OAuthClient


class NetworkSettings(BaseModel):
    """One network's settings in CLEARPOST_PUBLISHER_NETWORKS (JSON: network -> these fields)."""

    model_config = ConfigDict(extra="forbid")

    api_base_url: str | None = None
    auth_base_url: str | None = None
    client_id: str | None = None
    # The OAuth client secret: a file (a mounted secret) or, for development, the value itself.
    client_secret_file: Path | None = None
    client_secret: SecretStr | None = None
    timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    max_wait_seconds: float = Field(default=60.0, ge=0, le=600)

    def secret(self, network: str) -> str | None:
        if self.client_secret_file is not None and self.client_secret is not None:
            raise ChannelConfigError(f"{network}: set client_secret_file or client_secret, not both")
        if self.client_secret_file is not None:
            try:
                return self.client_secret_file.read_text().strip()
            except OSError as exc:
                raise ChannelConfigError(f"{network}: the client secret file cannot be read: {exc}") from exc
        return self.client_secret.get_secret_value() if self.client_secret is not None else None


class PublisherSettings(KitSettings):
    publisher_database_url: str | None = None
    # Channels this deployment posts to; each name needs an implementation in channels.py.
    publisher_channels: list[str] = ["sandbox"]
    # The `webhook` channel: where approved posts are POSTed, and the HMAC-SHA256 secret that signs
    # them. The secret comes from the environment or, better, a file outside the repository
    # (CLEARPOST_PUBLISHER_WEBHOOK_SECRET_FILE, e.g. a mounted secret); never both.
    publisher_webhook_url: str | None = None
    publisher_webhook_secret: SecretStr | None = None
    publisher_webhook_secret_file: Path | None = None
    publisher_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    publisher_webhook_max_length: int = Field(default=5000, ge=1, le=100_000)
    # Where each social network's API and OAuth pages are (local fakes in tests) and this
    # deployment's app registration with it: {"x": {"client_id": ..., "client_secret_file": ...}}.
    publisher_networks: dict[str, NetworkSettings] = {}
    # The address browsers and networks reach Clearpost at (the gateway): OAuth callbacks and the
    # expiring image URLs Instagram fetches are built on it. Defaults to CLEARPOST_GATEWAY_URL.
    public_url: str | None = None
    # AES-256 key (base64) sealing channel credentials; generated under var/keys/publisher/ if unset.
    publisher_credentials_key: str | None = None
    publisher_credentials_previous_keys: list[str] = []
    # How often each connected account's comments are read (docs/comments.md); 0: not listening.
    publisher_comment_poll_seconds: int = Field(default=300, ge=0, le=86_400)
    # Meta's webhook subscription check (hub.verify_token); pushes are signed with the facebook app secret.
    publisher_meta_webhook_verify_token: SecretStr | None = None

    def meta_webhook_verify_token(self) -> str | None:
        token = self.publisher_meta_webhook_verify_token
        return token.get_secret_value() if token is not None else None

    @property
    def database_url(self) -> str:
        return self.publisher_database_url or self.default_database_url("publisher")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("publisher", self.database_url)

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or self.gateway_url).rstrip("/")

    def network_configs(self) -> dict[str, NetworkConfig]:
        unknown = sorted(set(self.publisher_networks) - set(NETWORKS))
        if unknown:
            raise ChannelConfigError(
                f"CLEARPOST_PUBLISHER_NETWORKS names unknown network(s): {', '.join(unknown)} "
                f"(known: {', '.join(NETWORKS)})"
            )
        return {
            network: NetworkConfig(
                api_base_url=given.api_base_url or DEFAULT_API_URLS[network],
                auth_base_url=given.auth_base_url,
                client_id=given.client_id,
                client_secret=given.secret(network),
                timeout_seconds=given.timeout_seconds,
                max_wait_seconds=given.max_wait_seconds,
            )
            for network, given in self.publisher_networks.items()
        }

    def oauth_clients(self) -> dict[str, OAuthClient]:
        return {
            network: OAuthClient(config.client_id, config.client_secret or "")
            for network, config in self.network_configs().items()
            if config.client_id
        }

    def credential_keys(self) -> KeyRing:
        return load_key_ring(
            self.service_keys_dir("publisher") / "credentials.key",
            self.publisher_credentials_key,
            self.publisher_credentials_previous_keys,
            what="channel credentials key",
        )

    def webhook_config(self) -> WebhookConfig | None:
        """The webhook channel's settings when it is configured (None otherwise); missing or
        unusable settings raise ChannelConfigError naming the setting."""
        if WebhookChannel.name not in self.publisher_channels:
            return None
        if not self.publisher_webhook_url:
            raise ChannelConfigError(
                "channel 'webhook' is configured but CLEARPOST_PUBLISHER_WEBHOOK_URL is not set"
            )
        return WebhookConfig(
            url=self.publisher_webhook_url,
            secret=self._webhook_secret(),
            timeout_seconds=self.publisher_webhook_timeout_seconds,
            max_length=self.publisher_webhook_max_length,
        )

    def _webhook_secret(self) -> bytes:
        given, path = self.publisher_webhook_secret, self.publisher_webhook_secret_file
        if given is not None and path is not None:
            raise ChannelConfigError(
                "set CLEARPOST_PUBLISHER_WEBHOOK_SECRET or CLEARPOST_PUBLISHER_WEBHOOK_SECRET_FILE, not both"
            )
        if path is not None:
            try:
                secret = path.read_bytes().strip()
            except OSError as exc:
                raise ChannelConfigError(f"the webhook secret file {path} cannot be read: {exc}") from exc
        elif given is not None:
            secret = given.get_secret_value().strip().encode()
        else:
            raise ChannelConfigError(
                "channel 'webhook' needs a secret: set CLEARPOST_PUBLISHER_WEBHOOK_SECRET_FILE "
                "(or CLEARPOST_PUBLISHER_WEBHOOK_SECRET)"
            )
        if not secret:
            raise ChannelConfigError("the webhook secret is empty")
        return secret


def get_settings() -> PublisherSettings:
    return PublisherSettings()
