from __future__ import annotations

from services.kit.settings import KitSettings


class DraftsSettings(KitSettings):
    drafts_database_url: str | None = None

    @property
    def database_url(self) -> str:
        return self.drafts_database_url or self.default_database_url("drafts")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("drafts", self.database_url)


def get_settings() -> DraftsSettings:
    return DraftsSettings()
