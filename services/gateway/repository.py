from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import LoginThrottle, RefreshToken, User
from services.kit.db import release_connection


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: str) -> User | None:
        return await self._session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        statement = select(User).where(User.username == username)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def existing_usernames(self, usernames: Sequence[str]) -> set[str]:
        statement = select(User.username).where(User.username.in_(list(usernames)))
        return set((await self._session.execute(statement)).scalars().all())

    async def list(self) -> Sequence[User]:
        statement = select(User).order_by(User.username)
        return (await self._session.execute(statement)).scalars().all()

    async def deactivated(self) -> Sequence[User]:
        statement = select(User).where(User.active.is_(False)).order_by(User.deactivated_at)
        return (await self._session.execute(statement)).scalars().all()

    async def throttle(self, key: str) -> LoginThrottle | None:
        statement = (
            select(LoginThrottle)
            .where(LoginThrottle.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def delete_throttle(self, key: str) -> None:
        await self._session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))

    def add(self, item: User | RefreshToken | LoginThrottle) -> None:
        self._session.add(item)

    async def refresh_token_by_hash(
        self, token_hash: str, *, for_update: bool = False
    ) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def revoke_refresh_family(self, family_id: str, at: datetime) -> None:
        statement = (
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        await self._session.execute(statement)

    async def revoke_refresh_tokens_of(self, user_id: str, at: datetime) -> int:
        """Revoke every live refresh token of a user; returns how many there were."""
        statement = (
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        result = await self._session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    async def flush(self) -> None:
        await self._session.flush()

    async def release_connection(self) -> None:
        """Before a slow wait (a password hash, another service): see services/kit/db.py."""
        await release_connection(self._session)
