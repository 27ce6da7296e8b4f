"""Fixtures for the comment ingest tests: the publisher's database (both kinds, through
migrations) and a comment seal."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from services.kit.sealing import FieldSealer, KeyRing
from services.publisher.comment_ingest import CommentSeal
from tests.database import DatabaseFactory


@pytest.fixture
async def publisher_sessions(database: DatabaseFactory) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def comment_seal() -> CommentSeal:
    return CommentSeal(FieldSealer(KeyRing(os.urandom(32))))


@pytest.fixture
async def review_sessions(database: DatabaseFactory) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
