"""Server-side sign-in sessions: the browser holds a random cookie, the tokens stay here, sealed.

The row is keyed by SHA-256 of the cookie's secret, and the user's gateway tokens in it are sealed
(AES-256-GCM, services/kit/sealing.py) with a key derived from that secret (HKDF-SHA256), which
only the browser holds: a copy of the review database opens no one's session and holds no token
anyone can use.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.kit.auth import KeySet, RevocationList
from services.kit.sealing import KeyRing, SealError
from services.kit.tokens import Principal, TokenError, verify_access_token
from services.review.ui.models import UiSession
from services.review.ui.repository import UiRepository
from services.review.ui.security import new_secret, secret_digest
from services.review.ui.upstream import GatewayIdentity, IssuedTokens, SignInRefused

# Refresh the user's access token when it has less than this left, so no call fails mid-page.
REFRESH_MARGIN = timedelta(seconds=60)
SEALED_PREFIX = "sealed.v1."


class SessionVault:
    """Seals and opens one session's tokens with the key its cookie secret derives."""

    def __init__(self, secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"clearpost review-ui session tokens"
        ).derive(secret.encode())
        self._ring = KeyRing(key, what="session key")
        self.session_id = secret_digest(secret)

    def seal(self, token: str, *, field: str) -> str:
        sealed = self._ring.seal(token.encode(), aad=self._context(field))
        return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, stored: str, *, field: str) -> str:
        """The token; SealError when it was altered, moved from another row, or never sealed."""
        if not stored.startswith(SEALED_PREFIX):
            raise SealError("the session's tokens are not sealed")
        sealed = base64.urlsafe_b64decode(stored[len(SEALED_PREFIX) :])
        return self._ring.open(self._ring.current_id, sealed, aad=self._context(field)).decode()

    def seal_refresh(self, token: str | None) -> str | None:
        return None if token is None else self.seal(token, field="refresh")

    def open_refresh(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored, field="refresh")

    def _context(self, field: str) -> bytes:
        return f"{self.session_id}:{field}".encode()


@dataclass
class SignedIn:
    session: UiSession
    principal: Principal
    access_token: str
    refresh_token: str | None

    @property
    def token(self) -> str:
        return self.access_token


class SessionEnded(Exception):
    """No valid session: never signed in, signed out, idle too long, or the sign-in was revoked."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class UiSessions:
    def __init__(
        self,
        repo: UiRepository,
        *,
        identity: GatewayIdentity,
        key_set: KeySet,
        issuer: str,
        audience: str,
        idle_timeout: timedelta,
        revocations: RevocationList | None = None,
    ) -> None:
        self._repo = repo
        self._revocations = revocations
        self._identity = identity
        self._key_set = key_set
        self._issuer = issuer
        self._audience = audience
        self._idle = idle_timeout

    async def _principal(self, token: str) -> Principal:
        for refresh in (False, True):
            keys = await self._key_set.keys(refresh=refresh)
            try:
                return verify_access_token(token, keys, issuer=self._issuer, audience=self._audience)
            except TokenError as exc:
                if str(exc) != "unknown signing key" or refresh:
                    raise SessionEnded("your sign-in is no longer valid; sign in again") from exc
        raise SessionEnded("your sign-in is no longer valid")  # pragma: no cover

    async def start(self, username: str, password: str, now: datetime) -> tuple[str, SignedIn]:
        """Sign in through the gateway; returns the cookie secret and the new session.

        Raises SignInRefused when the gateway refuses the credentials.
        """
        return await self.start_with(await self._identity.sign_in(username, password), now)

    async def start_with(self, tokens: IssuedTokens, now: datetime) -> tuple[str, SignedIn]:
        """A session for tokens the gateway issued (a password, or the identity provider)."""
        principal = await self._principal(tokens.access_token)
        secret = new_secret()
        vault = SessionVault(secret)
        session = UiSession(
            id=vault.session_id,
            user_id=principal.user_id,
            username=principal.username,
            display_name=principal.name,
            access_token=vault.seal(tokens.access_token, field="access"),
            access_expires_at=now + timedelta(seconds=tokens.expires_in),
            refresh_token=vault.seal_refresh(tokens.refresh_token),
            csrf_token=new_secret(),
            created_at=now,
            last_seen_at=now,
        )
        self._repo.add(session)
        await self._repo.delete_idle_sessions(now - self._idle)
        await self._repo.flush()
        return secret, SignedIn(session, principal, tokens.access_token, tokens.refresh_token)

    async def current(self, cookie: str | None, now: datetime) -> SignedIn:
        """The session the cookie names, refreshed and touched; SessionEnded otherwise."""
        if not cookie:
            raise SessionEnded()
        vault = SessionVault(cookie)
        session = await self._repo.ui_session(vault.session_id)
        if session is None:
            raise SessionEnded("your session has ended; sign in again")
        if session.last_seen_at + self._idle <= now:
            await self._end(session)
            minutes = int(self._idle.total_seconds() // 60)
            raise SessionEnded(f"you were signed out after {minutes} minutes without activity")
        try:
            access = vault.open(session.access_token, field="access")
            refresh = vault.open_refresh(session.refresh_token)
        except (SealError, ValueError) as exc:  # altered in the database, or from before sealing
            await self._end(session)
            raise SessionEnded("your session has ended; sign in again") from exc
        if session.access_expires_at - REFRESH_MARGIN <= now:
            access, refresh = await self._refresh(session, vault, refresh, now)
        principal = await self._principal(access)
        if self._revocations is not None and await self._revocations.is_revoked(principal.user_id):
            await self._end(session)
            raise SessionEnded("your account was deactivated")
        if self._revocations is not None and await self._revocations.tokens_revoked(
            principal.user_id, principal.issued_at
        ):
            # The identity provider took a role away: a new token carries the roles as they are now.
            access, refresh = await self._refresh(session, vault, refresh, now)
            principal = await self._principal(access)
            if await self._revocations.tokens_revoked(principal.user_id, principal.issued_at):
                await self._end(session)
                raise SessionEnded("your roles changed; sign in again")
        session.last_seen_at = now
        await self._repo.flush()
        return SignedIn(session, principal, access, refresh)

    async def _refresh(
        self, session: UiSession, vault: SessionVault, refresh_token: str | None, now: datetime
    ) -> tuple[str, str | None]:
        if refresh_token is None:
            await self._end(session)
            raise SessionEnded("your sign-in expired; sign in again")
        try:
            tokens: IssuedTokens = await self._identity.refresh(refresh_token)
        except SignInRefused as exc:
            await self._end(session)
            raise SessionEnded("your sign-in expired or was revoked; sign in again") from exc
        session.access_token = vault.seal(tokens.access_token, field="access")
        session.access_expires_at = now + timedelta(seconds=tokens.expires_in)
        session.refresh_token = vault.seal_refresh(tokens.refresh_token)
        return tokens.access_token, tokens.refresh_token

    async def end(self, signed: SignedIn) -> None:
        """Sign out: the gateway revokes the refresh token, the session row goes."""
        if signed.refresh_token:
            await self._identity.revoke(signed.refresh_token)
        await self._end(signed.session)

    async def _end(self, session: UiSession) -> None:
        await self._repo.delete_ui_session(session.id)
        await self._repo.flush()
