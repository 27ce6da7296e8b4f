"""Demo accounts for `clearpost seed-demo` (only ever with CLEARPOST_DEMO=true)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.config import GatewaySettings
from services.gateway.models import User
from services.gateway.repository import UserRepository
from services.gateway.service import Passwords
from services.kit.clock import utcnow
from services.kit.db import create_engine, create_sessionmaker, session_scope, upgrade_to_head

# Deliberately shorter than the API's 12-character minimum: it is typed by hand in demos.
DEMO_PASSWORD = "demo-password"

DEMO_USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("author@demo", "Avery Author", ("author",)),
    ("author2@demo", "Sam Second-Author", ("author",)),
    ("legal@demo", "Lena Legal", ("legal",)),
    ("compliance@demo", "Casey Compliance", ("compliance",)),
    ("medical@demo", "Morgan Medical", ("medical",)),
    ("dual@demo", "Dana Dual", ("legal", "medical")),
    ("authorreviewer@demo", "Riley Author-Reviewer", ("author", "compliance")),
    ("publisher@demo", "Parker Publisher", ("publisher",)),
    ("auditor@demo", "Audrey Auditor", ("auditor",)),
    ("admin@demo", "Adrian Admin", ("admin",)),
    # The crisis lane (docs/crisis-lane.md): one starts an emergency post, two others sign it.
    ("crisis@demo", "Cris Crisis", ("crisis",)),
    ("crisis2@demo", "Kai Crisis-Two", ("crisis",)),
    ("crisis3@demo", "Noor Crisis-Three", ("crisis",)),
    ("pv@demo", "Pat Pharmacovigilance", ("pharmacovigilance",)),
)


class DemoDisabled(RuntimeError):
    """Demo accounts share a published password; they are refused unless demo mode is on."""


async def seed_demo_users(session: AsyncSession, passwords: Passwords | None = None) -> list[str]:
    """Create the demo users that are missing; existing ones are left untouched. Returns created usernames."""
    repository = UserRepository(session)
    existing = await repository.existing_usernames([username for username, _, _ in DEMO_USERS])
    missing = [entry for entry in DEMO_USERS if entry[0] not in existing]
    if not missing:
        return []
    passwords = passwords or Passwords()
    now = utcnow()
    for username, display_name, roles in missing:
        repository.add(
            User(
                id=str(uuid.uuid4()),
                username=username,
                display_name=display_name,
                password_hash=await passwords.hash(DEMO_PASSWORD),
                roles=sorted(roles),
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    await repository.flush()
    return [username for username, _, _ in missing]


def seed_demo(settings: GatewaySettings) -> list[str]:
    """Migrate the gateway database and seed the demo users (sync: call it outside an event loop)."""
    if not settings.demo:
        raise DemoDisabled("refusing to create demo users: set CLEARPOST_DEMO=true to enable demo mode")
    upgrade_to_head("gateway", settings.database_url, settings.database_schema)
    return asyncio.run(_seed(settings.database_url, settings.database_schema))


async def _seed(url: str, schema: str | None) -> list[str]:
    engine = create_engine(url, schema=schema)
    created: list[str] = []
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            created = await seed_demo_users(session)
    finally:
        await engine.dispose()
    return created
