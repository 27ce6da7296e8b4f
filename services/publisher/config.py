from __future__ import annotations

from pathlib import Path

from services.kit.settings import KitSettings


class PublisherSettings(KitSettings):
    publisher_database_url: str | None = None
    # Channels this deployment posts to; each name needs an implementation in channels.py.
    publisher_channels: list[str] = ["sandbox"]

    @property
    def database_url(self) -> str:
        return self.publisher_database_url or self.default_database_url("publisher")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("publisher", self.database_url)

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"


def get_settings() -> PublisherSettings:
    return PublisherSettings()
