from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

import httpx
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import RefreshToken, User
from services.gateway.repository import UserRepository
from services.gateway.roles import local_roles, set_local_roles
from services.gateway.schemas import AccessToken, Me, UserCreate, UserUpdate
from services.gateway.throttles import MAX_AUDITED_USERNAME, LoginLocked, LoginThrottles
from services.kit.audit_client import AuditRecorder
from services.kit.clock import utcnow
from services.kit.errors import (
    ClearpostError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from services.kit.tokens import Principal, SigningKey, issue_access_token

log = logging.getLogger(__name__)

LOGIN_FAILED = "invalid username or password"
LOCAL_PASSWORDS_OFF = (
    "local passwords are switched off for this account; sign in with your organization's identity provider"
)
REFRESH_FAILED = "the refresh token is not valid; sign in again"
OFFLINE_SCOPE = "offline_access"
# A failed sign-in names nobody: the username is only what was typed, so it goes in the details.
ANONYMOUS = "anonymous"


def normalize_username(username: str) -> str:
    return username.strip().lower()


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Passwords:
    """Argon2id hashing. Hashing and verifying run in a worker thread: each costs tens of
    milliseconds of CPU, which would otherwise stall every request on the event loop."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        # Verified against when the username is unknown, so that answer takes as long as a wrong password.
        self._dummy_hash = self._hasher.hash(uuid.uuid4().hex)

    def hash_now(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        target = password_hash if password_hash is not None else self._dummy_hash

        def _verify() -> bool:
            try:
                return self._hasher.verify(target, password)
            except (VerificationError, InvalidHashError):
                return False

        matched = await asyncio.to_thread(_verify)
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class AuthService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        passwords: Passwords,
        audit: AuditRecorder,
        signing_key: SigningKey,
        issuer: str,
        audience: str,
        ttl_seconds: int,
        refresh_ttl_seconds: int = 8 * 3600,
        throttles: LoginThrottles | None = None,
        local_passwords: str = "all",
    ) -> None:
        self._users = UserRepository(session)
        self._throttles = throttles
        self._local_passwords = local_passwords
        self._passwords = passwords
        self._audit = audit
        self._key = signing_key
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._refresh_ttl = refresh_ttl_seconds

    async def login(
        self, username: str, password: str, *, offline: bool = False, address: str | None = None
    ) -> AccessToken:
        """The password grant; `offline` (scope offline_access) adds a refresh token.

        Refused with LoginLocked (429), before the password is even looked at, while the account
        or the client `address` is locked after too many failures or every attempt the window
        allows is already being verified; and, after it, when a concurrent failure locked the
        account meanwhile. Failures are audited by `anonymous`, the typed username in details.
        """
        wanted = normalize_username(username)
        typed = wanted[:MAX_AUDITED_USERNAME]
        if self._throttles is not None:
            # The attempt takes its slot before Argon2 runs: parallel guesses cannot outrun the count.
            wait = await self._throttles.reserve(wanted, address, utcnow())
            if wait is not None:
                await self._refuse_locked(typed, address, wait)
        user = await self._users.get_by_username(wanted)
        # Argon2 takes a fraction of a CPU-second, and queues behind other sign-ins (every signed
        # decision is one): no pooled connection waits with it, nor with the audit call after it.
        await self._users.release_connection()
        # Verify even for unknown or inactive users: all three failures must look and time the same.
        matched = await self._passwords.verify(user.password_hash if user else None, password)
        if user is None or not matched or not user.active:
            reason = "unknown_user" if user is None else "wrong_password" if not matched else "inactive_user"
            subject = f"user:{user.id}" if user else f"username:{typed}"
            await self._audit_login(
                actor=ANONYMOUS,
                action="auth.login_failed",
                subject=subject,
                details={"reason": reason, "username": typed},
            )
            if self._throttles is not None:
                for key in await self._throttles.failed(wanted, address, utcnow()):
                    kind, _, value = key.partition(":")
                    await self._audit_login(
                        actor=ANONYMOUS,
                        action="auth.locked",
                        subject=subject if kind == "account" else key,
                        details={
                            "locked": kind,
                            "value": value,
                            "username": typed,
                            "address": address,
                            "lockout_seconds": self._throttles.limits.lockout_seconds,
                        },
                    )
            raise Unauthorized(LOGIN_FAILED, code="invalid_grant")
        if self._throttles is not None:
            # A concurrent failure may have locked the account while this password was verified.
            wait = await self._throttles.succeeded(wanted, address, utcnow())
            if wait is not None:
                await self._refuse_locked(typed, address, wait)
        if self._local_passwords == "admins" and "admin" not in user.roles:
            # Checked after the password, so the answer says nothing about accounts to a guesser.
            await self._audit_login(
                actor=user.id,
                action="auth.login_failed",
                subject=f"user:{user.id}",
                details={"reason": "local_passwords_off", "username": user.username},
            )
            raise Forbidden(LOCAL_PASSWORDS_OFF, code="local_passwords_off")
        if self._passwords.needs_rehash(user.password_hash):
            user.password_hash = await self._passwords.hash(password)
            await self._users.flush()
        user.last_login_at, user.last_login_method = utcnow(), "password"
        await self._users.flush()
        await self._audit_login(
            actor=user.id,
            action="auth.login",
            subject=f"user:{user.id}",
            details={"username": user.username, "method": "password"},
        )
        if offline:
            return self._tokens(user, refresh=await self._new_refresh_token(user, str(uuid.uuid4())))
        return self._tokens(user)

    async def issue_for(self, user: User, *, method: str) -> AccessToken:
        """Tokens (with a refresh token) for a user another door authenticated (the identity provider)."""
        user.last_login_at, user.last_login_method = utcnow(), method
        await self._users.flush()
        return self._tokens(user, refresh=await self._new_refresh_token(user, str(uuid.uuid4())))

    async def audit_login(self, *, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        await self._audit_login(actor=actor, action=action, subject=subject, details=details)

    async def refresh(self, token: str) -> AccessToken | None:
        """The refresh_token grant: a new access token and a new refresh token; the old one is spent.

        None means refused. It is an answer rather than an exception because a refusal may write
        (revoking a family) and that write must be committed. The user's current roles and status
        are read again, so a role change or deactivation takes effect at the next refresh. A spent
        token presented again means it was copied: every token from that sign-in is revoked.
        """
        now = utcnow()
        row = await self._users.refresh_token_by_hash(refresh_token_hash(token), for_update=True)
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            return None
        if row.rotated_at is not None:
            await self._refresh_reused(row, now)
            return None
        user = await self._users.get(row.user_id)
        if user is None or not user.active:
            await self._users.revoke_refresh_family(row.family_id, now)
            await self._users.flush()
            return None
        # Spent in one guarded write: of two simultaneous refreshes only one rotates, and the other
        # is a reuse like any replay of a spent token.
        if not await self._users.rotate_refresh_token(row.id, now):
            await self._refresh_reused(row, now)
            return None
        # The family keeps the sign-in's deadline: refreshing never extends a session past it.
        successor = await self._new_refresh_token(user, row.family_id, expires_at=row.expires_at)
        return self._tokens(user, refresh=successor)

    async def _refresh_reused(self, row: RefreshToken, now: datetime) -> None:
        await self._users.revoke_refresh_family(row.family_id, now)
        await self._users.flush()
        await self._audit_login(
            actor=row.user_id,
            action="auth.refresh_reused",
            subject=f"user:{row.user_id}",
            details={"family_id": row.family_id},
        )

    async def revoke(self, token: str) -> None:
        """RFC 7009: revoke a refresh token and its family; an unknown token is not an error."""
        row = await self._users.refresh_token_by_hash(refresh_token_hash(token), for_update=True)
        if row is None:
            return
        await self._users.revoke_refresh_family(row.family_id, utcnow())
        await self._users.flush()

    async def _new_refresh_token(
        self, user: User, family_id: str, *, expires_at: datetime | None = None
    ) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        deadline = expires_at or now + timedelta(seconds=self._refresh_ttl)
        self._users.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                token_hash=refresh_token_hash(token),
                family_id=family_id,
                user_id=user.id,
                created_at=now,
                expires_at=deadline,
            )
        )
        await self._users.flush()
        return token, deadline

    def _tokens(self, user: User, *, refresh: tuple[str, datetime] | None = None) -> AccessToken:
        principal = Principal(
            user_id=user.id,
            username=user.username,
            name=user.display_name,
            roles=frozenset(user.roles),
            sso=user.idp_subject is not None,
        )
        token = issue_access_token(
            self._key,
            issuer=self._issuer,
            audience=self._audience,
            principal=principal,
            ttl_seconds=self._ttl,
        )
        if refresh is None:
            return AccessToken(access_token=token, expires_in=self._ttl)
        refresh_token, deadline = refresh
        return AccessToken(
            access_token=token,
            expires_in=self._ttl,
            refresh_token=refresh_token,
            refresh_expires_in=max(0, round((deadline - utcnow()).total_seconds())),
        )

    async def me(self, principal: Principal) -> Me:
        user = await self._users.get(principal.user_id)
        if user is None or not user.active:
            raise Unauthorized("this account no longer exists or is inactive")
        return Me(id=user.id, username=user.username, display_name=user.display_name, roles=list(user.roles))

    async def _refuse_locked(self, typed: str, address: str | None, wait: int) -> NoReturn:
        await self._audit_login(
            actor=ANONYMOUS,
            action="auth.login_failed",
            subject=f"username:{typed}",
            details={"reason": "locked", "username": typed, "address": address},
        )
        raise LoginLocked(wait)

    async def _audit_login(self, *, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        # The one place an audit outage is tolerated: nobody could log in (not even to fix it) otherwise.
        try:
            await self._audit.append(actor=actor, action=action, subject=subject, details=details)
        except (ClearpostError, httpx.HTTPError, ValueError) as exc:
            log.warning("audit log unavailable; %s for %r was not recorded: %s", action, actor, exc)


class UserService:
    def __init__(self, session: AsyncSession, *, passwords: Passwords, audit: AuditRecorder) -> None:
        self._users = UserRepository(session)
        self._passwords = passwords
        self._audit = audit

    async def list(self) -> Sequence[User]:
        return await self._users.list()

    async def create(self, data: UserCreate, *, actor: Principal | str) -> User:
        if await self._users.get_by_username(data.username) is not None:
            raise Conflict(f"username {data.username!r} is taken")
        now = utcnow()
        user = User(
            id=str(uuid.uuid4()),
            username=data.username,
            display_name=data.display_name,
            password_hash=await self._passwords.hash(data.password),
            roles=list(data.roles),
            role_sources={r: "local" for r in data.roles},
            idp_groups=[],
            active=True,
            created_at=now,
            updated_at=now,
        )
        self._users.add(user)
        await self._flush_unique(data.username)
        await self._record(
            actor=actor,
            action="user.created",
            subject=f"user:{user.id}",
            details={"username": user.username, "display_name": user.display_name, "roles": user.roles},
            idempotency_key=f"gateway:user.created:{user.id}",
        )
        return user

    async def get(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        return user

    async def deactivated(self) -> Sequence[User]:
        return await self._users.deactivated()

    async def update(self, user_id: str, data: UserUpdate, *, actor: Principal, via: str = "api") -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("no such user")
        if user.id == actor.user_id and (
            data.active is False or (data.roles is not None and "admin" not in data.roles)
        ):
            raise Conflict("admins cannot deactivate themselves or drop their own admin role")
        changed: dict[str, Any] = {}
        if data.display_name is not None and data.display_name != user.display_name:
            user.display_name = changed["display_name"] = data.display_name
        if data.roles is not None and data.roles != sorted(local_roles(user)):
            set_local_roles(user, data.roles)
            changed["roles"] = list(user.roles)
        if data.active is not None and data.active != user.active:
            user.active = changed["active"] = data.active
        password_changed = data.password is not None
        if data.password is not None:
            user.password_hash = await self._passwords.hash(data.password)
        if not changed and not password_changed:
            return user
        user.updated_at = utcnow()
        revoked = 0
        if password_changed or changed.get("active") is False:
            # A new password or a closed account ends every sign-in's refresh chain (roles are
            # read again at each refresh, so a role change needs no revocation).
            revoked = await self._users.revoke_refresh_tokens_of(user.id, user.updated_at)
        if "active" in changed:
            # Listed while deactivated: every service refuses the user's access tokens (kit/auth.py).
            user.deactivated_at = None if user.active else user.updated_at
        await self._users.flush()
        await self._record(
            actor=actor,
            action="user.updated",
            subject=f"user:{user.id}",
            details={
                "username": user.username,
                "changed": changed,
                "password_changed": password_changed,
                "via": via,
            },
        )
        if "active" in changed:
            await self._record(
                actor=actor,
                action="user.deactivated" if not user.active else "user.reactivated",
                subject=f"user:{user.id}",
                details={"username": user.username, "via": via, "refresh_tokens_revoked": revoked},
            )
        elif revoked:
            await self._record(
                actor=actor,
                action="auth.refresh_revoked",
                subject=f"user:{user.id}",
                details={"reason": "password changed", "refresh_tokens_revoked": revoked},
            )
        return user

    async def _flush_unique(self, username: str) -> None:
        try:
            await self._users.flush()
        except IntegrityError as exc:  # a concurrent create won the race for the username
            raise Conflict(f"username {username!r} is taken") from exc

    async def _record(self, **event: Any) -> None:
        # Account changes must leave a trace: if the audit log cannot take the event, the change fails
        # and the request's unit of work rolls back.
        try:
            await self._audit.append(**event)
        except (ClearpostError, httpx.HTTPError, ValueError) as exc:
            detail = exc.detail if isinstance(exc, ClearpostError) else str(exc)
            raise UpstreamUnavailable(
                f"the audit log did not record {event['action']}; nothing was changed ({detail})"
            ) from exc
