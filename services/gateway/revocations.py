"""The gateway's revocation list, read from its own database (the other services poll its route)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.repository import IdentityRepository, UserRepository
from services.kit.auth import Revocations, RevocationSource
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.kit.tokens import MAX_ACCESS_TOKEN_SECONDS


async def read_revocations(session: AsyncSession) -> Revocations:
    """Deactivated users, and users whose tokens until some time are refused; the latter only while
    such a token could still be alive (no access token lives longer than MAX_ACCESS_TOKEN_SECONDS)."""
    since = utcnow() - timedelta(seconds=MAX_ACCESS_TOKEN_SECONDS)
    return Revocations(
        deactivated={
            u.id: u.deactivated_at or u.updated_at for u in await UserRepository(session).deactivated()
        },
        tokens_before={
            u.id: u.tokens_revoked_at
            for u in await IdentityRepository(session).users_with_revoked_tokens(since)
            if u.tokens_revoked_at is not None
        },
    )


def database_revocations(sessionmaker: async_sessionmaker[AsyncSession]) -> RevocationSource:
    async def fetch() -> Revocations:
        async with session_scope(sessionmaker) as session:
            return await read_revocations(session)

    return fetch
