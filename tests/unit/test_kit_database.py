"""The database fixture itself, on both SQLite and PostgreSQL: migrated, isolated per test."""

from __future__ import annotations

from sqlalchemy import text

from services.kit.db import create_engine
from tests.database import DatabaseFactory


async def _count_users(url: str, schema: str | None) -> int:
    engine = create_engine(url, schema=schema)
    async with engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
    await engine.dispose()
    return int(count)


async def test_a_test_writes(database: DatabaseFactory) -> None:
    target = database("gateway")
    engine = create_engine(target.url, schema=target.schema)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, roles, active,"
                " created_at, updated_at)"
                " VALUES ('u1', 'x@demo', 'X', 'h', '[]', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    await engine.dispose()
    assert await _count_users(target.url, target.schema) == 1


async def test_the_next_test_starts_empty(database: DatabaseFactory) -> None:
    target = database("gateway")
    assert await _count_users(target.url, target.schema) == 0
