"""What comment tests import: a publication row as the publisher keeps one once posted. Load the
fixtures with `pytest_plugins = ["tests.unit.comment_fixtures"]`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.models import PUBLISHED, Publication


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
