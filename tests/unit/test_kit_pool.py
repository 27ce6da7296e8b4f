"""The connection pool under exhaustion (issue #13): reported at once by /readyz, recovered from
without a restart, and a session gives its connection back before a caller waits elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.kit.app import create_service_app
from services.kit.db import PoolExhausted, check_pool, create_engine, create_sessionmaker, release_connection
from tests.database import DatabaseFactory


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_DB_POOL_SIZE", "1")
    monkeypatch.setenv("CLEARPOST_DB_POOL_OVERFLOW", "1")
    monkeypatch.setenv("CLEARPOST_DB_POOL_TIMEOUT_SECONDS", "0.5")


async def test_an_exhausted_pool_is_reported_at_once_and_recovers(
    database: DatabaseFactory, small_pool: None
) -> None:
    target = database("gateway")
    engine = create_engine(target.url, schema=target.schema)
    try:
        check_pool(engine)
        held = [await engine.connect() for _ in range(2)]
        with pytest.raises(PoolExhausted, match="pool exhausted: 2 of 2"):
            check_pool(engine)
        for connection in held:
            await connection.close()
        check_pool(engine)  # the connections came back: nothing to restart
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_release_connection_gives_the_session_connection_back(
    database: DatabaseFactory, small_pool: None
) -> None:
    target = database("gateway")
    engine = create_engine(target.url, schema=target.schema)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as first, sessionmaker() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            with pytest.raises(PoolExhausted):
                check_pool(engine)
            await release_connection(first)
            check_pool(engine)
            # The session goes on: its next query takes a connection again.
            assert (await first.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_readyz_names_pool_exhaustion_and_is_ready_again_after(
    database: DatabaseFactory, small_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    target = database("gateway")
    engine = create_engine(target.url, schema=target.schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.revocations = None
        yield

    app = create_service_app(service="pooltest", title="pool test", lifespan=lifespan, routers=[])
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/readyz")).json()["checks"]["database"] == "ok"
            held = [await engine.connect() for _ in range(2)]
            unready = await client.get("/readyz")
            assert unready.status_code == 503
            assert "pool exhausted" in unready.json()["checks"]["database"]
            for connection in held:
                await connection.close()
            assert (await client.get("/readyz")).json()["checks"]["database"] == "ok"
    finally:
        await engine.dispose()
