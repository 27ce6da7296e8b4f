from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import User


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

    def add(self, user: User) -> None:
        self._session.add(user)

    async def flush(self) -> None:
        await self._session.flush()
