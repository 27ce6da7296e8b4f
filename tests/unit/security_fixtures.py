"""The `services` fixture: all five apps in one process (see tests/unit/security_support.py).

Load with `pytest_plugins = ["tests.unit.security_fixtures"]`; import from security_support.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.gateway.models import User
from services.kit.auth import RevocationList, StaticKeySet
from services.kit.db import session_scope
from services.kit.tokens import SigningKey
from tests.database import DatabaseFactory
from tests.unit.security_support import INTERNAL_TOKEN, ROLES, SCIM_TOKEN, SERVICES, Services, principal_for


@pytest.fixture
async def services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Services]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    monkeypatch.setenv("CLEARPOST_GATEWAY_SCIM_TOKEN", SCIM_TOKEN)
    # Nothing listens here: a service that calls another one out of turn fails loudly and fast.
    for name in SERVICES:
        monkeypatch.setenv(f"CLEARPOST_{name.upper()}_URL", f"http://127.0.0.1:9/{uuid.uuid4().hex}")
    for name in SERVICES:
        for key, value in database(name).settings_env().items():
            monkeypatch.setenv(key, value)
    async with AsyncExitStack() as stack:
        for app in SERVICES.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        key: SigningKey = SERVICES["gateway"].state.signing_key
        suite = Services(apps=dict(SERVICES), key=key)

        async def source() -> dict[str, datetime]:
            return dict(suite.revoked)

        for app in SERVICES.values():
            if app is not SERVICES["gateway"]:
                app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
            if hasattr(app.state, "audit"):
                app.state.audit = suite.audit
            app.state.revocations = RevocationList(source, interval=3600)
            await app.state.revocations.refresh()
        now = datetime.now(UTC)
        async with session_scope(SERVICES["gateway"].state.sessionmaker) as session:
            for role in ROLES:
                p = principal_for(role)
                session.add(
                    User(
                        id=p.user_id, username=p.username, display_name=p.name, password_hash="x",
                        roles=[role], active=True, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        yield suite
