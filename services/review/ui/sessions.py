"""Server-side sign-in sessions: the browser holds a random cookie, the tokens stay here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.kit.auth import KeySet, RevocationList
from services.kit.tokens import Principal, TokenError, verify_access_token
from services.review.ui.models import UiSession
from services.review.ui.repository import UiRepository
from services.review.ui.security import new_secret, secret_digest
from services.review.ui.upstream import GatewayIdentity, IssuedTokens, SignInRefused

# Refresh the user's access token when it has less than this left, so no call fails mid-page.
REFRESH_MARGIN = timedelta(seconds=60)


@dataclass
class SignedIn:
    session: UiSession
    principal: Principal

    @property
    def token(self) -> str:
        return self.session.access_token


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
        tokens = await self._identity.sign_in(username, password)
        principal = await self._principal(tokens.access_token)
        secret = new_secret()
        session = UiSession(
            id=secret_digest(secret),
            user_id=principal.user_id,
            username=principal.username,
            display_name=principal.name,
            access_token=tokens.access_token,
            access_expires_at=now + timedelta(seconds=tokens.expires_in),
            refresh_token=tokens.refresh_token,
            csrf_token=new_secret(),
            created_at=now,
            last_seen_at=now,
        )
        self._repo.add(session)
        await self._repo.delete_idle_sessions(now - self._idle)
        await self._repo.flush()
        return secret, SignedIn(session, principal)

    async def current(self, cookie: str | None, now: datetime) -> SignedIn:
        """The session the cookie names, refreshed and touched; SessionEnded otherwise."""
        if not cookie:
            raise SessionEnded()
        session = await self._repo.ui_session(secret_digest(cookie))
        if session is None:
            raise SessionEnded("your session has ended; sign in again")
        if session.last_seen_at + self._idle <= now:
            await self._end(session)
            minutes = int(self._idle.total_seconds() // 60)
            raise SessionEnded(f"you were signed out after {minutes} minutes without activity")
        if session.access_expires_at - REFRESH_MARGIN <= now:
            await self._refresh(session, now)
        principal = await self._principal(session.access_token)
        if self._revocations is not None and await self._revocations.is_revoked(principal.user_id):
            await self._end(session)
            raise SessionEnded("your account was deactivated")
        session.last_seen_at = now
        await self._repo.flush()
        return SignedIn(session, principal)

    async def _refresh(self, session: UiSession, now: datetime) -> None:
        if session.refresh_token is None:
            await self._end(session)
            raise SessionEnded("your sign-in expired; sign in again")
        try:
            tokens: IssuedTokens = await self._identity.refresh(session.refresh_token)
        except SignInRefused as exc:
            await self._end(session)
            raise SessionEnded("your sign-in expired or was revoked; sign in again") from exc
        session.access_token = tokens.access_token
        session.access_expires_at = now + timedelta(seconds=tokens.expires_in)
        session.refresh_token = tokens.refresh_token

    async def end(self, session: UiSession) -> None:
        """Sign out: the gateway revokes the refresh token, the session row goes."""
        if session.refresh_token:
            await self._identity.revoke(session.refresh_token)
        await self._end(session)

    async def _end(self, session: UiSession) -> None:
        await self._repo.delete_ui_session(session.id)
        await self._repo.flush()
