"""Failed passwords are limited per account and per client address, persisted, locked and audited.

Every locked account is the test's own (never a demo user).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.gateway.models import LoginThrottle, User
from services.gateway.service import Passwords
from services.gateway.throttles import LoginThrottles, ThrottleLimits
from services.kit.clock import utcnow

if TYPE_CHECKING:
    from tests.unit.gateway_fixtures import GatewayLogin
    from tests.unit.recording_audit import RecordingAudit

PASSWORD = "lockout-test-password"
TOKEN = "/api/v1/auth/token"


async def own_account(client: httpx.AsyncClient, login: GatewayLogin) -> dict[str, Any]:
    admin = await login.headers("admin@demo")
    response = await client.post(
        "/api/v1/users",
        json={
            "username": f"lock-{uuid.uuid4().hex[:8]}@test",
            "display_name": "Lock Test",
            "password": PASSWORD,
            "roles": ["legal"],
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def attempt(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(TOKEN, data={"username": username, "password": password})


async def failed(throttles: LoginThrottles, username: str, address: str, now: datetime) -> list[str]:
    """One wrong password as the login runs it: reserve the attempt, then count the failure."""
    assert await throttles.reserve(username, address, now) is None
    return await throttles.failed(username, address, now)


async def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin, gateway_audit: RecordingAudit
) -> None:
    user = await own_account(gateway_client, gateway_login)
    for _ in range(4):
        assert (await attempt(gateway_client, user["username"], "wrong-password")).status_code == 401
    assert "auth.locked" not in gateway_audit.actions()
    assert (await attempt(gateway_client, user["username"], "wrong-password")).status_code == 401
    locked = await attempt(gateway_client, user["username"], PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    [event] = [e for e in gateway_audit.events if e["action"] == "auth.locked"]
    assert event["subject"] == f"user:{user['id']}" and event["details"]["locked"] == "account"
    # What was typed is not who acted: every failure and lock names nobody.
    refusals = [e for e in gateway_audit.events if e["action"] in ("auth.login_failed", "auth.locked")]
    assert {e["actor"] for e in refusals} == {"anonymous"}
    assert {e["details"]["username"] for e in refusals} == {user["username"]}
    # Another account from the same address still signs in.
    assert (await gateway_login.token_response("legal@demo")).status_code == 200


async def test_a_success_resets_the_account_count(
    gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    user = await own_account(gateway_client, gateway_login)
    for _ in range(4):
        await attempt(gateway_client, user["username"], "wrong-password")
    assert (await attempt(gateway_client, user["username"], PASSWORD)).status_code == 200
    for _ in range(4):
        assert (await attempt(gateway_client, user["username"], "wrong-password")).status_code == 401
    assert (await attempt(gateway_client, user["username"], PASSWORD)).status_code == 200


async def test_counts_survive_a_restart(
    gateway_app: FastAPI, gateway_client: httpx.AsyncClient, gateway_login: GatewayLogin
) -> None:
    user = await own_account(gateway_client, gateway_login)
    for _ in range(5):
        await attempt(gateway_client, user["username"], "wrong-password")
    async with gateway_app.state.sessionmaker() as session:
        rows = {r.key: r for r in (await session.execute(select(LoginThrottle))).scalars().all()}
    assert rows[f"account:{user['username']}"].locked_until is not None
    # A new process reads the same table: the lock holds.
    fresh = LoginThrottles(gateway_app.state.sessionmaker, ThrottleLimits())
    assert await fresh.retry_after(user["username"], None, utcnow()) is not None


async def test_per_address_limit_and_expiry(gateway_app: FastAPI) -> None:
    limits = ThrottleLimits(per_account=100, per_address=3, window_seconds=60, lockout_seconds=120)
    throttles = LoginThrottles(gateway_app.state.sessionmaker, limits)
    now = utcnow()
    names = [f"spray-{i}-{uuid.uuid4().hex[:6]}@test" for i in range(3)]
    locked: list[str] = []
    for name in names:
        locked += await failed(throttles, name, "203.0.113.9", now)
    assert locked == ["address:203.0.113.9"]
    assert await throttles.retry_after("someone-else@test", "203.0.113.9", now) == 121
    assert await throttles.retry_after("someone-else@test", "198.51.100.1", now) is None
    assert (
        await throttles.retry_after("someone-else@test", "203.0.113.9", now + timedelta(seconds=121)) is None
    )
    # Failures outside the window do not add up.
    other = "198.51.100.7"
    await failed(throttles, names[0], other, now)
    await failed(throttles, names[0], other, now)
    assert await failed(throttles, names[0], other, now + timedelta(seconds=61)) == []


async def test_locked_address_is_audited(gateway_app: FastAPI, gateway_client: httpx.AsyncClient) -> None:
    gateway_app.state.throttles = LoginThrottles(
        gateway_app.state.sessionmaker, ThrottleLimits(per_account=100, per_address=2)
    )
    audit: RecordingAudit = gateway_app.state.audit
    for i in range(2):
        await attempt(gateway_client, f"nobody-{i}-{uuid.uuid4().hex[:6]}@test", "x")
    refused = await attempt(gateway_client, f"other-{uuid.uuid4().hex[:6]}@test", "x")
    assert refused.status_code == 429
    event = next(e for e in audit.events if e["action"] == "auth.locked")
    assert event["subject"] == "address:127.0.0.1" and event["details"]["locked"] == "address"


class CountingPasswords(Passwords):
    """The real Argon2 verify, counting how many passwords of one account it was asked to check."""

    def __init__(self, inner: Passwords, password_hash: str) -> None:
        self._inner = inner
        self._hash = password_hash
        self.verified = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash == self._hash:
            self.verified += 1
        return await self._inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)


async def counting_passwords(app: FastAPI, username: str) -> CountingPasswords:
    async with app.state.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.username == username))).scalar_one()
    counting = CountingPasswords(app.state.passwords, user.password_hash)
    app.state.passwords = counting
    return counting


async def test_parallel_guesses_get_no_more_tries_than_the_limit(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    user = await own_account(gateway_client, gateway_login)
    passwords = await counting_passwords(gateway_app, user["username"])

    answers = await asyncio.gather(
        *(attempt(gateway_client, user["username"], f"guess-{i}") for i in range(12))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * 5 + [429] * 7
    assert passwords.verified == 5
    locks = [e["details"]["locked"] for e in gateway_audit.events if e["action"] == "auth.locked"]
    assert locks == ["account"]
    assert (await attempt(gateway_client, user["username"], PASSWORD)).status_code == 429
    assert passwords.verified == 5


async def test_the_right_password_among_parallel_guesses_never_signs_in_a_locked_account(
    gateway_app: FastAPI,
    gateway_client: httpx.AsyncClient,
    gateway_login: GatewayLogin,
    gateway_audit: RecordingAudit,
) -> None:
    user = await own_account(gateway_client, gateway_login)
    passwords = await counting_passwords(gateway_app, user["username"])
    guesses = [f"guess-{i}" for i in range(5)]
    guesses.insert(3, PASSWORD)

    answers = await asyncio.gather(*(attempt(gateway_client, user["username"], g) for g in guesses))

    signed_in = answers[3].status_code == 200
    locked = "auth.locked" in gateway_audit.actions()
    assert passwords.verified <= 5
    # Either the right password came first and cleared the count, or the account locked and the
    # right password was refused with it: never a sign-in into an account that shows locked.
    assert signed_in != locked, [a.status_code for a in answers]
    if locked:
        assert answers[3].status_code == 429
        assert (await attempt(gateway_client, user["username"], PASSWORD)).status_code == 429


async def test_ipv6_clients_are_counted_per_64(gateway_app: FastAPI) -> None:
    limits = ThrottleLimits(per_account=100, per_address=3, window_seconds=60, lockout_seconds=120)
    throttles = LoginThrottles(gateway_app.state.sessionmaker, limits)
    now = utcnow()
    # One host picks a new address of its /64 for every guess.
    hosts = ["2001:db8:1:2::1", "2001:db8:1:2:aaaa::9", "2001:db8:1:2:ffff:ffff:ffff:fffe"]
    locked: list[str] = []
    for i, address in enumerate(hosts):
        locked += await failed(throttles, f"v6-{i}-{uuid.uuid4().hex[:6]}@test", address, now)
    assert locked == ["address:2001:db8:1:2::/64"]
    assert await throttles.retry_after("someone@test", "2001:db8:1:2:1234::1", now) == 121
    assert await throttles.retry_after("someone@test", "2001:db8:1:3::1", now) is None
    # An IPv4 client seen through an IPv6 socket is the IPv4 address.
    await failed(throttles, "v4@test", "::ffff:203.0.113.50", now)
    async with gateway_app.state.sessionmaker() as session:
        keys = set((await session.execute(select(LoginThrottle.key))).scalars().all())
    assert "address:203.0.113.50" in keys
