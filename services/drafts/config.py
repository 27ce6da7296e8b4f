from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.kit.settings import KitSettings


class DraftsSettings(KitSettings):
    drafts_database_url: str | None = None
    # AES-256 key (base64) for consent records' identifying fields and signed forms; generated
    # under var/keys/drafts/consent.key when not given.
    consent_key: str | None = None
    # Consent keys used before a rotation (base64 each): still open what they sealed.
    consent_previous_keys: list[str] = []
    # How long publishing may retry channels that fail for now before the post ends as
    # publish_failed (given to each approval workflow when its draft is first submitted).
    publish_deadline_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)
    # Sanitized media are stored content-addressed here (var/media/<sha256>).
    media_dir: Path | None = None
    # The channels a draft may target as the API schema states them: the publisher's own setting
    # (CLEARPOST_PUBLISHER_CHANNELS, same default). The publisher owns the list and drafts still
    # checks each draft against the list it serves (services/drafts/channels.py).
    publisher_channels: list[str] = ["sandbox"]

    @property
    def database_url(self) -> str:
        return self.drafts_database_url or self.default_database_url("drafts")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("drafts", self.database_url)

    @property
    def media_path(self) -> Path:
        path = self.media_dir or self.var_dir / "media"
        path.mkdir(parents=True, exist_ok=True)
        return path


def get_settings() -> DraftsSettings:
    return DraftsSettings()
