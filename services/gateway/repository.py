from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import (
    IdpSession,
    LoginThrottle,
    OidcLogin,
    RefreshToken,
    ScimGroup,
    ScimGroupMember,
    SigningReauthentication,
    User,
)
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

    async def ensure_throttle(self, key: str, now: datetime) -> None:
        """The key's row, created with no failures if it is not there yet (a concurrent creation wins)."""
        dialect = self._session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = (
            insert(LoginThrottle)
            .values(key=key, failures=0, window_started_at=now)
            .on_conflict_do_nothing(index_elements=[LoginThrottle.key])
        )
        await self._session.execute(statement)

    async def reserve_throttle(self, key: str, now: datetime, *, limit: int, cutoff: datetime) -> bool:
        """Count one attempt in one guarded write: False (nothing counted) while the key is locked or
        its window, started after `cutoff`, already holds `limit` attempts."""
        expired = LoginThrottle.window_started_at <= cutoff
        statement = (
            update(LoginThrottle)
            .where(
                LoginThrottle.key == key,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
                or_(expired, LoginThrottle.failures < limit),
            )
            .values(
                failures=case((expired, 1), else_=LoginThrottle.failures + 1),
                window_started_at=case((expired, now), else_=LoginThrottle.window_started_at),
            )
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement)) == 1

    async def lock_throttle(self, key: str, now: datetime, *, limit: int, until: datetime) -> bool:
        """Lock the key until `until` if its window's attempts reached `limit`; True if this locked it."""
        statement = (
            update(LoginThrottle)
            .where(
                LoginThrottle.key == key,
                LoginThrottle.failures >= limit,
                or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
            )
            .values(locked_until=until, failures=0, window_started_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement)) == 1

    async def release_throttle(self, key: str) -> None:
        """Give one counted attempt back (it succeeded)."""
        statement = (
            update(LoginThrottle)
            .where(LoginThrottle.key == key, LoginThrottle.failures > 0)
            .values(failures=LoginThrottle.failures - 1)
            .execution_options(synchronize_session=False)
        )
        await self._session.execute(statement)

    async def clear_unlocked_throttle(self, key: str, now: datetime) -> bool:
        """Delete the key's count unless it is locked; True if a row was deleted."""
        statement = delete(LoginThrottle).where(
            LoginThrottle.key == key,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
        return _rowcount(await self._session.execute(statement)) == 1

    def add(self, item: User | RefreshToken | LoginThrottle) -> None:
        self._session.add(item)

    async def refresh_token_by_hash(
        self, token_hash: str, *, for_update: bool = False
    ) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def rotate_refresh_token(self, token_id: str, at: datetime) -> bool:
        """Spend a refresh token in one guarded write; False if another request spent (or revoked) it
        first: the row lock of `refresh_token_by_hash(for_update=True)` means nothing on SQLite."""
        statement = (
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(rotated_at=at)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(await self._session.execute(statement)) == 1

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
        return _rowcount(await self._session.execute(statement))

    async def flush(self) -> None:
        await self._session.flush()

    async def release_connection(self) -> None:
        """Before a slow wait (a password hash, another service): see services/kit/db.py."""
        await release_connection(self._session)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class IdentityRepository:
    """Pending OIDC sign-ins, signing re-authentications and SCIM groups."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, item: OidcLogin | SigningReauthentication | ScimGroup | ScimGroupMember) -> None:
        self._session.add(item)

    async def remember_idp_session(self, sid_hash: str, user_id: str, now: datetime) -> None:
        """The provider session a user signed in with (kept once; a second sign-in in it changes nothing)."""
        if await self._session.get(IdpSession, sid_hash) is None:
            self._session.add(IdpSession(sid_hash=sid_hash, user_id=user_id, created_at=now))
            await self._session.flush()

    async def user_by_idp_session(self, sid_hash: str) -> User | None:
        statement = (
            select(User)
            .join(IdpSession, IdpSession.user_id == User.id)
            .where(IdpSession.sid_hash == sid_hash)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def forget_idp_sessions(self, user_id: str) -> int:
        """The user's provider sessions, ended: a later logout naming one of them finds nobody."""
        result = await self._session.execute(delete(IdpSession).where(IdpSession.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)

    async def user_by_subject(self, subject: str) -> User | None:
        statement = select(User).where(User.idp_subject == subject)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def take_login(self, state_hash: str, now: datetime) -> OidcLogin | None:
        """The pending sign-in, spent in one guarded write; None if unknown, spent or expired."""
        statement = (
            update(OidcLogin)
            .where(
                OidcLogin.state_hash == state_hash,
                OidcLogin.used_at.is_(None),
                OidcLogin.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(await self._session.execute(statement)) != 1:
            return None
        return await self._session.get(OidcLogin, state_hash, populate_existing=True)

    async def delete_expired_logins(self, before: datetime) -> None:
        await self._session.execute(delete(OidcLogin).where(OidcLogin.expires_at < before))

    async def redeem_reauthentication(
        self, handle_hash: str, now: datetime
    ) -> SigningReauthentication | None:
        statement = (
            update(SigningReauthentication)
            .where(
                SigningReauthentication.handle_hash == handle_hash,
                SigningReauthentication.used_at.is_(None),
                SigningReauthentication.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(await self._session.execute(statement)) != 1:
            return None
        return await self._session.get(SigningReauthentication, handle_hash, populate_existing=True)

    async def groups(self) -> Sequence[ScimGroup]:
        return (
            (await self._session.execute(select(ScimGroup).order_by(ScimGroup.display_name))).scalars().all()
        )

    async def group(self, group_id: str) -> ScimGroup | None:
        return await self._session.get(ScimGroup, group_id)

    async def group_by_name(self, name: str) -> ScimGroup | None:
        statement = select(ScimGroup).where(ScimGroup.display_name == name)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def member_ids(self, group_id: str) -> set[str]:
        statement = select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == group_id)
        return set((await self._session.execute(statement)).scalars().all())

    async def set_members(self, group_id: str, user_ids: set[str]) -> None:
        await self._session.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == group_id))
        for user_id in sorted(user_ids):
            self._session.add(ScimGroupMember(group_id=group_id, user_id=user_id))

    async def group_names_of(self, user_id: str) -> list[str]:
        statement = (
            select(ScimGroup.display_name)
            .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
            .where(ScimGroupMember.user_id == user_id)
            .order_by(ScimGroup.display_name)
        )
        return list((await self._session.execute(statement)).scalars().all())

    async def delete_group(self, group: ScimGroup) -> None:
        await self._session.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == group.id))
        await self._session.delete(group)

    async def users_with_revoked_tokens(self, since: datetime) -> Sequence[User]:
        statement = select(User).where(User.tokens_revoked_at.is_not(None), User.tokens_revoked_at > since)
        return (await self._session.execute(statement)).scalars().all()

    async def flush(self) -> None:
        await self._session.flush()
