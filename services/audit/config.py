from __future__ import annotations

from services.kit.settings import KitSettings


class AuditSettings(KitSettings):
    audit_database_url: str | None = None

    @property
    def database_url(self) -> str:
        return self.audit_database_url or self.default_database_url("audit")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("audit", self.database_url)


def get_settings() -> AuditSettings:
    return AuditSettings()
