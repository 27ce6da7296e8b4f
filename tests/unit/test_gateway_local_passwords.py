"""CLEARPOST_LOCAL_PASSWORDS=admins: local passwords for break-glass admins only."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit

pytest_plugins = ["tests.unit.gateway_fixtures"]


@pytest.fixture
def gateway_env(gateway_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLEARPOST_LOCAL_PASSWORDS", "admins")
    return gateway_env


async def test_only_admins_sign_in_with_a_local_password(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_audit: RecordingAudit
) -> None:
    admin = await gateway_login.token_response("admin@demo")
    assert admin.status_code == 200, admin.text
    refused = await gateway_login.token_response("legal@demo")
    assert refused.status_code == 403
    assert refused.json()["error"] == "local_passwords_off"
    assert "identity provider" in refused.json()["detail"]
    failed = [e for e in gateway_audit.events if e["action"] == "auth.login_failed"]
    assert failed[-1]["details"]["reason"] == "local_passwords_off"
    # A wrong password still says only that: nothing about whether the account may use one.
    wrong = await gateway_login.token_response("legal@demo", "not-the-password")
    assert wrong.status_code == 401


async def test_every_account_signs_in_with_a_password_by_default(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.gateway.config import GatewaySettings

    monkeypatch.setenv("CLEARPOST_LOCAL_PASSWORDS", "all")
    assert GatewaySettings().local_passwords == "all"
    monkeypatch.delenv("CLEARPOST_LOCAL_PASSWORDS")
    assert GatewaySettings().local_passwords == "all"
    monkeypatch.setenv("CLEARPOST_LOCAL_PASSWORDS", "nobody")
    with pytest.raises(ValueError):
        GatewaySettings()
