"""`clearpost users create-admin`: the first administrator of an install without demo users, by the
same rules and with the same audit event as POST /api/v1/users; nothing without the event."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import services.gateway.first_admin as first_admin
from services.audit.main import app as audit_service
from services.cli import app
from services.gateway.config import GatewaySettings
from services.gateway.models import User
from services.gateway.schemas import UserCreate
from services.kit.auth import INTERNAL_HEADER
from services.kit.db import create_engine, create_sessionmaker, upgrade_to_head
from tests.unit.audit_fixtures import INTERNAL_TOKEN, AuditApp, audit_app

__all__ = ["audit_app"]
runner = CliRunner()


@pytest.fixture
def gateway_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GatewaySettings:
    monkeypatch.setenv("CLEARPOST_GATEWAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    settings = GatewaySettings()
    upgrade_to_head("gateway", settings.database_url, settings.database_schema)
    return settings


async def _usernames(settings: GatewaySettings) -> list[str]:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.scalars(select(User.username))).all())
    finally:
        await engine.dispose()


async def test_the_first_admin_is_created_and_audited(
    audit_app: AuditApp, gateway_db: GatewaySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def audit_over_asgi(base_url: str, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=audit_service),
            base_url="http://audit",
            headers={INTERNAL_HEADER: token},
        )

    monkeypatch.setattr(first_admin, "internal_client", audit_over_asgi)
    data = UserCreate(
        username="root@hospital.org", display_name="Ops", password="a long passphrase 1", roles=["admin"]
    )

    user = await first_admin.create_admin(gateway_db, data)

    assert user.roles == ["admin"] and user.password_hash != data.password
    assert await _usernames(gateway_db) == ["root@hospital.org"]
    events = (
        await audit_app.client.get(
            "/api/v1/audit/events", params={"action": "user.created"}, headers=audit_app.bearer("auditor")
        )
    ).json()["events"]
    assert [e["subject"] for e in events] == [f"user:{user.id}"]
    assert events[0]["actor"].startswith("operator:")

    with pytest.raises(Exception, match="is taken"):
        await first_admin.create_admin(gateway_db, data)


def test_no_admin_is_created_when_the_audit_log_does_not_answer(
    gateway_db: GatewaySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("CLEARPOST_AUDIT_URL", "http://127.0.0.1:9")

    result = runner.invoke(app, ["users", "create-admin", "root@hospital.org"], input="a long passphrase 1\n")

    assert result.exit_code == 1
    assert "the audit log did not record user.created; nothing was changed" in result.output
    assert asyncio.run(_usernames(gateway_db)) == []


def test_a_short_password_is_refused_with_the_reason(gateway_db: GatewaySettings) -> None:
    result = runner.invoke(app, ["users", "create-admin", "root@hospital.org"], input="short\n")

    assert result.exit_code == 2
    assert "password" in result.output and "at least" in result.output
