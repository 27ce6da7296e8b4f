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
from sqlalchemy.pool import QueuePool

from services.kit.settings import KitSettings
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


class PoolSettings(KitSettings):
    """How many connections each service process keeps and how long a caller waits for one.

    No request or activity holds a connection while it awaits Temporal or another service
    (docs/performance.md), so a connection is busy only for the queries of one unit of work:
    a small pool serves many requests in flight. The timeout is short on purpose: a caller that
    cannot get a connection in that time fails (503, or an activity retried by Temporal) instead
    of queueing behind a pool that is not coming back, and `/readyz` says the pool is exhausted.
    """

    db_pool_size: int = 5
    db_pool_overflow: int = 10
    db_pool_timeout_seconds: float = 10.0
    # SQLite has one writer at a time: a writer waits this long for the lock before it fails.
    sqlite_busy_timeout_ms: int = 10_000


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An engine for one service's database; on PostgreSQL every connection works in `schema`."""
    pool = PoolSettings()
    sizing: dict[str, Any] = {
        "pool_size": pool.db_pool_size,
        "max_overflow": pool.db_pool_overflow,
        "pool_timeout": pool.db_pool_timeout_seconds,
    }
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith(("sqlite+aiosqlite:", "sqlite:")):
            sizing = {}  # an in-memory database lives in one connection (SQLAlchemy's StaticPool)
        busy_ms = pool.sqlite_busy_timeout_ms
        engine = create_async_engine(url, connect_args={"timeout": busy_ms / 1000}, **sizing)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL: readers never wait for the writer and the writer never waits for readers.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.close()

        instrument_engine(engine)
        return engine
    engine = create_async_engine(url, pool_pre_ping=True, connect_args=_schema_connect_args(schema), **sizing)
    instrument_engine(engine)
    return engine


class PoolExhausted(RuntimeError):
    """Every connection of the pool is checked out; `/readyz` reports it instead of waiting."""


def check_pool(engine: AsyncEngine) -> None:
    """Raise PoolExhausted, at once, when no connection could be had without waiting."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    limit = pool.size() + pool._max_overflow
    if pool.checkedout() >= limit:
        raise PoolExhausted(
            f"pool exhausted: {pool.checkedout()} of {limit} connections checked out "
            f"(pool_size {pool.size()} + overflow {pool._max_overflow})"
        )


async def release_connection(session: AsyncSession) -> None:
    """End the session's transaction now, so its pooled connection goes back to the pool.

    Called before a request or activity awaits Temporal or another service: a Temporal update
    can wait for this very service's activities, which need a connection from the same pool, and
    holding one across that await deadlocks the pool (issue #13). What was flushed is committed;
    the session starts a new transaction (and takes a connection again) at its next query.
    """
    await session.commit()


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


async def drop_schemas(url: str, prefix: str) -> None:
    """Drop the schemas one PostgreSQL run created under `prefix`."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        rows = await connection.execute(
            text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": f"{prefix}%"},
        )
        for (name,) in rows.all():
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()
