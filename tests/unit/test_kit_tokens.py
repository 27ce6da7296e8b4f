from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from jose import jwt as jose_jwt

from services.kit.auth import ReloadingKeySet
from services.kit.canonical import content_hash
from services.kit.tokens import (
    Principal,
    TokenError,
    issue_access_token,
    load_or_create_signing_key,
    verify_access_token,
)

ISS, AUD = "clearpost-gateway", "clearpost"
ALICE = Principal("u1", "alice@demo", "Alice", frozenset({"legal"}))


@pytest.fixture
def key(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_or_create_signing_key(tmp_path / "k.pem")


def test_round_trip_and_key_is_stable(key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = issue_access_token(key, issuer=ISS, audience=AUD, principal=ALICE, ttl_seconds=60)
    assert verify_access_token(token, {key.kid: key.public_jwk}, issuer=ISS, audience=AUD) == ALICE
    assert load_or_create_signing_key(tmp_path / "k.pem").kid == key.kid
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong_aud",
        "wrong_iss",
        "wrong_typ",
        "alg_none",
        "hs256_public",
        "unknown_kid",
        "no_exp",
        "garbage",
        "oversized",
    ],
)
def test_bad_tokens_are_refused(key, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    keys = {key.kid: key.public_jwk}
    now = time.time()
    claims = {"sub": "u1", "iss": ISS, "aud": AUD, "iat": int(now), "exp": int(now) + 60, "roles": ["legal"]}
    header = {"kid": key.kid, "typ": "at+jwt"}
    if case == "expired":
        token = issue_access_token(
            key, issuer=ISS, audience=AUD, principal=ALICE, ttl_seconds=60, now=now - 600
        )
    elif case == "wrong_aud":
        token = issue_access_token(key, issuer=ISS, audience="other", principal=ALICE, ttl_seconds=60)
    elif case == "wrong_iss":
        token = issue_access_token(key, issuer="evil", audience=AUD, principal=ALICE, ttl_seconds=60)
    elif case == "wrong_typ":
        token = jose_jwt.encode(claims, key.private_pem, algorithm="ES256", headers={**header, "typ": "JWT"})
    elif case == "alg_none":
        token = f"{_b64({'alg': 'none', **header})}.{_b64(claims)}."
    elif case == "hs256_public":
        public_pem = json.dumps(key.public_jwk)
        token = jose_jwt.encode(claims, public_pem, algorithm="HS256", headers=header)
    elif case == "unknown_kid":
        other = load_or_create_signing_key(tmp_path / "other.pem")
        token = issue_access_token(other, issuer=ISS, audience=AUD, principal=ALICE, ttl_seconds=60)
    elif case == "no_exp":
        token = jose_jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"},
            key.private_pem,
            algorithm="ES256",
            headers=header,
        )
    elif case == "garbage":
        token = "not.a.token"
    else:
        token = "a" * 10_000
    with pytest.raises(TokenError):
        verify_access_token(token, keys, issuer=ISS, audience=AUD)


def test_content_hash_normalizes_text_and_covers_every_field() -> None:
    base = content_hash(title="T", body="caf\u00e9\nline", channels=["sandbox"], media_digests=[])
    assert content_hash(title="T", body="cafe\u0301\r\nline", channels=["sandbox"], media_digests=[]) == base
    assert content_hash(title="T2", body="caf\u00e9\nline", channels=["sandbox"], media_digests=[]) != base
    assert content_hash(title="T", body="caf\u00e9\nline", channels=["x"], media_digests=[]) != base
    assert content_hash(title="T", body="caf\u00e9\nline", channels=["sandbox"], media_digests=["d"]) != base


async def test_published_keys_are_read_again_on_a_schedule_and_on_an_unknown_kid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A revoked key drops out of every service's copy without a restart."""
    answers = [{"k1": {"kid": "k1"}}, {"k2": {"kid": "k2"}}, {"k3": {"kid": "k3"}}]
    clock = [1000.0]
    monkeypatch.setattr("services.kit.auth.time.monotonic", lambda: clock[0])

    async def load() -> dict[str, dict[str, str]]:
        return answers.pop(0)

    keys = ReloadingKeySet(load, what="keys")
    assert set(await keys.keys()) == {"k1"}
    clock[0] += 1
    assert set(await keys.keys(refresh=True)) == {"k1"}  # an unknown kid, but asked a moment ago
    clock[0] += ReloadingKeySet.MIN_REFRESH_SECONDS
    assert set(await keys.keys(refresh=True)) == {"k2"}
    clock[0] += ReloadingKeySet.MAX_AGE_SECONDS + 1
    assert set(await keys.keys()) == {"k3"}  # old enough: read again unasked
