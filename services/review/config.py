from __future__ import annotations

from pathlib import Path

from services.kit.settings import KitSettings

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy" / "default.yaml"


class ReviewSettings(KitSettings):
    review_database_url: str | None = None
    review_policy_file: Path = DEFAULT_POLICY_FILE
    # The review UI (/review): a session ends after this long without a request.
    review_ui_idle_timeout_seconds: int = 15 * 60
    # A reviewer's claim on a stage lapses after this long without them working on the draft.
    review_ui_claim_idle_seconds: int = 30 * 60
    # A claim older than this goes back to the queue however active its holder is (audited); 0: never.
    review_claim_expiry_hours: float = 24
    # Failed password entries (sign-in and signing) allowed per window, per account and per address.
    review_ui_max_failures_per_account: int = 5
    review_ui_max_failures_per_address: int = 20
    review_ui_failure_window_seconds: int = 15 * 60
    # The gateway's identity provider (the same setting): with one, the sign-in page offers
    # "Sign in with your organization" and SSO users sign decisions through it (docs/identity.md).
    oidc_issuer: str | None = None

    @property
    def database_url(self) -> str:
        return self.review_database_url or self.default_database_url("review")

    @property
    def database_schema(self) -> str | None:
        return self.schema_for("review", self.database_url)


def get_settings() -> ReviewSettings:
    return ReviewSettings()
