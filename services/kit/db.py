"""Engine, session and migration plumbing shared by every service's database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from services.kit.telemetry import instrument_engine

if TYPE_CHECKING:
    from alembic.config import Config

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the offset; this restores it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def _schema_connect_args(schema: str | None) -> dict[str, Any]:
    if schema is None:
        return {}
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"schema name {schema!r} must be letters, digits and underscores")
    return {"server_settings": {"search_path": schema}}


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An engine for one service's database; on PostgreSQL every connection works in `schema`."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        instrument_engine(engine)
        return engine
    engine = create_async_engine(url, pool_pre_ping=True, connect_args=_schema_connect_args(schema))
    instrument_engine(engine)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit when the caller finishes, roll back when it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def alembic_config(service: str, url: str, schema: str | None = None) -> Config:
    # Alembic is imported only where migrations run: a serving process never needs its ~30 MB.
    from alembic.config import Config

    migrations = Path(__file__).resolve().parent.parent / service / "migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(migrations / "versions"))
    config.attributes["database_url"] = url
    config.attributes["version_table"] = f"alembic_version_{service}"
    config.attributes["schema"] = schema
    return config


def upgrade_to_head(service: str, url: str, schema: str | None = None) -> None:
    from alembic import command

    command.upgrade(alembic_config(service, url, schema), "head")


def run_migrations(config: Config, target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py (online mode, async engine)."""
    url: str = config.attributes["database_url"]
    version_table: str = config.attributes["version_table"]
    schema: str | None = config.attributes.get("schema")

    def _do(connection: Connection) -> None:
        from alembic import context

        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            version_table_schema=schema,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = create_engine(url, schema=schema)
        async with engine.connect() as connection:
            if schema is not None:
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await connection.commit()
            await connection.run_sync(_do)
            await connection.commit()
        await engine.dispose()

    asyncio.run(_run())
