"""One fixture for every database test: each runs on SQLite and on PostgreSQL, through migrations.

- SQLite: each service is migrated once per session into a template file; every test gets its
  own copy of it.
- PostgreSQL (127.0.0.1:5432, database `test`, or CLEARPOST_TEST_POSTGRES_URL): each service is
  migrated once per session into schemas named for this run; every test's rows are truncated
  after it. Tests commit for real, because concurrency (audit appends, idempotent publish,
  decision races) is exactly what SQLite hides and these tests must show. Skipped, with a
  message, only where no PostgreSQL answers.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from services.kit.db import create_engine, upgrade_to_head
from services.kit.db import drop_schemas as drop_postgres_schemas

POSTGRES_URL = os.environ.get(
    "CLEARPOST_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
KINDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class DatabaseTarget:
    service: str
    kind: str
    url: str
    schema: str | None

    def settings_env(self) -> dict[str, str]:
        """Environment that points the service's own settings (and so its app) at this database."""
        env = {f"CLEARPOST_{self.service.upper()}_DATABASE_URL": self.url}
        if self.schema is not None:
            env["CLEARPOST_DB_SCHEMA_PREFIX"] = self.schema.removesuffix(self.service)
        return env


def postgres_answers() -> bool:
    parts = urlsplit(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


def _off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run blocking code that starts its own event loop (Alembic here) outside the test's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


class MigratedDatabases:
    """Per session and kind: each service migrated once, handed to tests in isolation."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self._workdir = workdir
        self._prefix = f"t{uuid.uuid4().hex[:8]}_"
        self._templates: dict[str, DatabaseTarget] = {}

    def _template(self, service: str) -> DatabaseTarget:
        if service not in self._templates:
            if self.kind == "sqlite":
                target = DatabaseTarget(
                    service, "sqlite", f"sqlite+aiosqlite:///{self._workdir / f'{service}.db'}", None
                )
            else:
                target = DatabaseTarget(service, "postgresql", POSTGRES_URL, f"{self._prefix}{service}")
            _off_loop(upgrade_to_head, service, target.url, target.schema)
            self._templates[service] = target
        return self._templates[service]

    def isolated(self, service: str, test_dir: Path) -> DatabaseTarget:
        template = self._template(service)
        if self.kind == "sqlite":
            path = test_dir / f"{service}.db"
            shutil.copyfile(urlsplit(template.url.replace("sqlite+aiosqlite", "file")).path, path)
            return DatabaseTarget(service, "sqlite", f"sqlite+aiosqlite:///{path}", None)
        return template

    async def truncate(self, service: str) -> None:
        target = self._templates.get(service)
        if target is None or target.schema is None:
            return
        engine = create_engine(target.url, schema=target.schema)
        async with engine.begin() as connection:
            rows = await connection.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = :schema AND tablename NOT LIKE 'alembic_%'"
                ),
                {"schema": target.schema},
            )
            tables = ", ".join(f'"{target.schema}"."{name}"' for (name,) in rows)
            if tables:
                await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        await engine.dispose()

    async def drop_all(self) -> None:
        if self.kind != "postgresql":
            return
        engine = create_engine(POSTGRES_URL)
        async with engine.begin() as connection:
            for target in self._templates.values():
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{target.schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture(scope="session", params=KINDS)
def migrated_databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedDatabases]:
    kind: str = request.param
    if kind == "postgresql" and not postgres_answers():
        pytest.skip(
            f"no PostgreSQL answers at {POSTGRES_URL} (set CLEARPOST_TEST_POSTGRES_URL to use another)"
        )
    databases = MigratedDatabases(kind, tmp_path_factory.mktemp(f"db-{kind}"))
    yield databases
    _off_loop(asyncio.run, databases.drop_all())


DatabaseFactory = Callable[[str], DatabaseTarget]


@pytest.fixture
async def database(migrated_databases: MigratedDatabases, tmp_path: Path) -> AsyncIterator[DatabaseFactory]:
    """`database("audit")` -> a migrated database of that service for this test only."""
    used: list[str] = []

    def factory(service: str) -> DatabaseTarget:
        used.append(service)
        return migrated_databases.isolated(service, tmp_path)

    yield factory
    for service in used:
        await migrated_databases.truncate(service)


def drop_schemas(prefix: str) -> None:
    """Drop every schema a run created under `prefix` (the e2e system's services)."""
    _off_loop(asyncio.run, drop_postgres_schemas(POSTGRES_URL, prefix))
