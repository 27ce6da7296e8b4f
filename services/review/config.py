from __future__ import annotations

from pathlib import Path

from services.kit.settings import KitSettings

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy" / "default.yaml"


class ReviewSettings(KitSettings):
    review_database_url: str | None = None
    review_policy_file: Path = DEFAULT_POLICY_FILE

    @property
    def database_url(self) -> str:
        return self.review_database_url or self.default_database_url("review")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("review", self.database_url)


def get_settings() -> ReviewSettings:
    return ReviewSettings()
