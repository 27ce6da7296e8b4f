"""What comment tests import: a publication row as the publisher keeps one once posted. Load the
fixtures with `pytest_plugins = ["tests.unit.comment_fixtures"]`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.comment_ingest import CommentIngest, CommentSeal
from services.publisher.models import PUBLISHED, Comment, Publication
from services.publisher.networks.base import AccountCredentials


async def add_publication(
    sessions: async_sessionmaker[AsyncSession], *, account: str, network: str, external_id: str
) -> Publication:
    publication = Publication(
        id=str(uuid.uuid4()),
        draft_id=str(uuid.uuid4()),
        version=1,
        channel=account,
        content_hash="0" * 64,
        status=PUBLISHED,
        external_id=external_id,
        created_at=datetime.now(UTC),
        published_at=datetime.now(UTC),
        network=network,
    )
    async with sessions() as session, session.begin():
        session.add(publication)
    return publication


def ingest_for(
    sessions: async_sessionmaker[AsyncSession],
    adapters: Mapping[str, object],
    account: AccountCredentials,
    seal: CommentSeal,
) -> CommentIngest:
    """A comment ingest (a fresh one stands for a restarted worker) reading as `account` only."""

    async def credentials(name: str) -> AccountCredentials:
        assert name == account.name
        return account

    return CommentIngest(sessions, adapters, credentials, seal)  # type: ignore[arg-type]


async def stored_comments(sessions: async_sessionmaker[AsyncSession]) -> list[Comment]:
    """Every stored comment, in the order the ingest stored them."""
    async with sessions() as session:
        rows = await session.scalars(select(Comment).order_by(Comment.read_at, Comment.created_at))
        return list(rows.all())
