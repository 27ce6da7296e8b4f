from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

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
    # Notifications (docs/review-policy.md, "Notifications"). No SMTP host: e-mail is off.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "clearpost@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # The password in a file (a mounted secret) instead; CLEARPOST_SECRETS_DIR works as for every setting.
    smtp_password_file: Path | None = None
    smtp_starttls: bool = True
    # Where links in notifications point: the review UI as the users' browsers reach it.
    public_url: str | None = None  # unset: CLEARPOST_GATEWAY_URL
    # The deliverer's pass interval, and how often a failing webhook is tried before its dead letter.
    notify_interval_seconds: float = 5.0
    notify_webhook_attempts: int = 6
    notify_webhook_backoff_seconds: float = 30.0

    def smtp_password_value(self) -> str | None:
        if self.smtp_password_file is not None:
            return self.smtp_password_file.read_text().strip()
        return self.smtp_password.get_secret_value() if self.smtp_password is not None else None

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
