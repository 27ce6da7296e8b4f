"""Failed-sign-in limits per account and per client address, kept in the gateway database.

A password is verified only after the attempt has taken a slot: one guarded UPDATE per key
counts it as a failure before Argon2 runs, and refuses when the window's slots are taken or the
key is locked. So N parallel guesses are N reservations, and at most the allowed number of them
are ever verified, on SQLite and PostgreSQL alike. A failure keeps its slot (and locks the key
when the slots are spent); a success gives the address's slot back and clears the account, unless
a concurrent failure locked the account first, in which case the sign-in is refused too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.repository import UserRepository
from services.kit.db import session_scope
from services.kit.errors import TooManyAttempts

# An actor string longer than any real username is someone probing; keep the audit row bounded.
MAX_AUDITED_USERNAME = 128
# IPv6 clients are counted per /64: one host is handed a whole /64 and can pick any address in it.
IPV6_CLIENT_PREFIX = 64


class LoginLocked(TooManyAttempts):
    """Too many failed password entries for this account or from this address: try again later."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            f"too many failed sign-ins; try again in {minutes} minute{'s' if minutes != 1 else ''}"
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottleLimits:
    per_account: int = 5
    per_address: int = 20
    window_seconds: int = 15 * 60
    lockout_seconds: int = 15 * 60


def address_key(address: str) -> str:
    """The throttle key of a client address: IPv4 as is, IPv6 by its /64 (IPv4-mapped as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"address:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"address:{ip.ipv4_mapped}"
        network = ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False)
        return f"address:{network}"
    return f"address:{ip}"


def account_key(username: str) -> str:
    return f"account:{username[:MAX_AUDITED_USERNAME]}"


class LoginThrottles:
    """Each operation is its own unit of work, committed whatever the login's own outcome: a refused
    login rolls its request back, and its failure must still count."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], limits: ThrottleLimits) -> None:
        self._sessionmaker = sessionmaker
        self.limits = limits

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(account_key(username), self.limits.per_account)]
        if address:
            keys.append((address_key(address), self.limits.per_address))
        return keys

    def _window_cutoff(self, now: datetime) -> datetime:
        """A window that started at or before this has ended."""
        return now - timedelta(seconds=self.limits.window_seconds)

    async def reserve(self, username: str, address: str | None, now: datetime) -> int | None:
        """Take one attempt's slot on the account and the address, both or neither; None when
        taken, else the seconds to wait (a key is locked or its window's slots are spent)."""
        keys = self._keys(username, address)
        cutoff = self._window_cutoff(now)
        # One transaction for both keys; leaving it without a commit (a refusal, an error) rolls
        # every reservation of this attempt back.
        async with self._sessionmaker() as session:
            repo = UserRepository(session)
            for key, _ in keys:
                await repo.ensure_throttle(key, now)
            reserved = True
            for key, limit in keys:
                if not await repo.reserve_throttle(key, now, limit=limit, cutoff=cutoff):
                    reserved = False
                    break
            if reserved:
                await session.commit()
                return None
            await session.rollback()
        return await self.retry_after(username, address, now) or 1

    async def retry_after(self, username: str, address: str | None, now: datetime) -> int | None:
        """Seconds until this account and address may try again, or None when they may now."""
        waits: list[float] = []
        cutoff = self._window_cutoff(now)
        async with session_scope(self._sessionmaker) as session:
            repo = UserRepository(session)
            for key, limit in self._keys(username, address):
                row = await repo.throttle(key)
                if row is None:
                    continue
                if row.locked_until is not None and row.locked_until > now:
                    waits.append((row.locked_until - now).total_seconds())
                elif row.failures >= limit and row.window_started_at > cutoff:
                    # Every slot is taken by attempts still being verified: wait for the window.
                    waits.append((row.window_started_at - cutoff).total_seconds())
        return max(1, int(max(waits)) + 1) if waits else None

    async def failed(self, username: str, address: str | None, now: datetime) -> list[str]:
        """A reserved attempt failed: it keeps its slot. Returns the keys it locked (its slot was
        the last of the window)."""
        locked: list[str] = []
        until = now + timedelta(seconds=self.limits.lockout_seconds)
        async with session_scope(self._sessionmaker) as session:
            repo = UserRepository(session)
            for key, limit in self._keys(username, address):
                if await repo.lock_throttle(key, now, limit=limit, until=until):
                    locked.append(key)
        return locked

    async def succeeded(self, username: str, address: str | None, now: datetime) -> int | None:
        """A reserved attempt had the right password: the address gets its slot back and the
        account's count is cleared. Returns the seconds to wait, and clears nothing, when a
        concurrent failure locked the account meanwhile (the sign-in must then be refused)."""
        account, *rest = self._keys(username, address)
        async with session_scope(self._sessionmaker) as session:
            repo = UserRepository(session)
            if not await repo.clear_unlocked_throttle(account[0], now):
                row = await repo.throttle(account[0])
                if row is not None and row.locked_until is not None and row.locked_until > now:
                    return max(1, int((row.locked_until - now).total_seconds()) + 1)
            for key, _ in rest:
                await repo.release_throttle(key)
        return None
