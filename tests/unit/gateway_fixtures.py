"""Fixtures for the gateway tests.

Test modules load this with `pytest_plugins = ["tests.unit.gateway_fixtures"]` and import from it
only under TYPE_CHECKING (importing it first would stop pytest from registering it as a plugin).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from services.gateway.main import app as gateway_asgi_app
from services.gateway.seed import DEMO_PASSWORD, seed_demo_users
from services.gateway.service import Passwords
from services.kit.db import create_engine, create_sessionmaker, session_scope
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit


class StaticLastDecisions:
    """Stands in for the review service's record of each reviewer's last signed decision."""

    def __init__(self) -> None:
        self.decisions: dict[str, tuple[datetime, str]] = {}

    async def latest(self) -> dict[str, tuple[datetime, str]]:
        return dict(self.decisions)


class HashOncePerPassword(PasswordHasher):
    """Real argon2id with the default parameters, but each password is hashed once per session.

    Seeding ten demo users costs ten argon2 runs (~1.5 s); with this every test seeds its own
    database, on SQLite and PostgreSQL alike, for the price of one run per session.
    """

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[str | bytes, str] = {}

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if password not in self._hashes:
            self._hashes[password] = super().hash(password, salt=salt)
        return self._hashes[password]


@pytest.fixture(scope="session")
def seed_passwords() -> Passwords:
    return Passwords(HashOncePerPassword())


@pytest.fixture
async def gateway_database_env(database: DatabaseFactory, seed_passwords: Passwords) -> dict[str, str]:
    """This test's migrated gateway database, holding the demo users; the env that points at it."""
    target = database("gateway")
    engine = create_engine(target.url, schema=target.schema)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            await seed_demo_users(session, seed_passwords)
    finally:
        await engine.dispose()
    return target.settings_env()


@pytest.fixture
def gateway_upstreams() -> dict[str, str]:
    """Service name -> base URL the proxy forwards to; a test module overrides this to run fakes."""
    return {}


@pytest.fixture
def gateway_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gateway_database_env: dict[str, str],
    gateway_upstreams: dict[str, str],
) -> Path:
    for service, url in gateway_upstreams.items():
        monkeypatch.setenv(f"CLEARPOST_{service.upper()}_URL", url)
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "test-internal-token")
    for name, value in gateway_database_env.items():
        monkeypatch.setenv(name, value)
    return tmp_path


@pytest.fixture
async def gateway_app(gateway_env: Path) -> AsyncIterator[FastAPI]:
    async with gateway_asgi_app.router.lifespan_context(gateway_asgi_app):
        gateway_asgi_app.state.audit = RecordingAudit()
        gateway_asgi_app.state.last_decisions = StaticLastDecisions()
        yield gateway_asgi_app


@pytest.fixture
async def gateway_client(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def gateway_audit(gateway_app: FastAPI) -> RecordingAudit:
    audit: RecordingAudit = gateway_app.state.audit
    return audit


class GatewayLogin:
    """Logs demo users in through the real token endpoint."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def token_response(self, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
        return await self._client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )

    async def headers(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        response = await self.token_response(username, password)
        if response.status_code != 200:
            raise RuntimeError(f"login as {username} failed: {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def gateway_login(gateway_client: httpx.AsyncClient) -> GatewayLogin:
    return GatewayLogin(gateway_client)
