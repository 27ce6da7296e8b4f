"""Publication checkpoints on both databases: the keys adapters really use fit (PostgreSQL enforces
the column's length, SQLite does not)."""

from __future__ import annotations

import hashlib

import pytest

from services.kit.db import create_engine, create_sessionmaker
from services.publisher.account_channel import DatabaseCheckpoints
from services.publisher.networks.bluesky import CHECKPOINT_BLOB
from services.publisher.networks.mastodon import CHECKPOINT_MEDIA
from tests.database import DatabaseFactory

# Image digests as the drafts service names them: 64 hex characters.
DIGEST = hashlib.sha256(b"an image").hexdigest()


@pytest.mark.parametrize("key", [CHECKPOINT_MEDIA + DIGEST, CHECKPOINT_BLOB + DIGEST])
async def test_an_image_checkpoint_is_kept_and_read_back(database: DatabaseFactory, key: str) -> None:
    target = database("publisher")
    engine = create_engine(target.url, schema=target.schema)
    try:
        checkpoints = DatabaseCheckpoints(create_sessionmaker(engine), "9832ef78-1a44-4bef-b0ee-daa1e78602fc")
        await checkpoints.put(key, "110000000000000008")
        await checkpoints.put(key, "110000000000000009")
        assert await checkpoints.get(key) == "110000000000000009"
    finally:
        await engine.dispose()
