from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.kit.settings import KitSettings
from services.publisher.channels import ChannelConfigError, WebhookChannel, WebhookConfig


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

    @property
    def database_url(self) -> str:
        return self.publisher_database_url or self.default_database_url("publisher")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("publisher", self.database_url)

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

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
