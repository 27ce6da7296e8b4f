"""Access tokens: the only module that imports python-jose.

python-jose accepts whatever algorithm a token names unless told otherwise, and does not require
`exp`, `iss` or `aud`. Everything here is explicit: one algorithm, required claims, the `kid`
checked against the published key set and the `typ` header checked before the signature.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jose.backends  # noqa: F401 - load the crypto backend now, not lazily inside a workflow sandbox
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

from services.kit.canonical import canonical_json, sha256_hex
from services.kit.keyfiles import KeyRingFiles, read_or_create

ALGORITHM = "ES256"
DECISION_TYPE = "clearpost-decision+jws"
REQUIREMENT_TYPE = "clearpost-requirement+jws"
ALLOWED_ALGORITHMS = [ALGORITHM]
TOKEN_TYPE = "at+jwt"
MAX_TOKEN_BYTES = 8192
# The longest an access token may live (exp - iat), whatever its issuer says: a token signed with a
# leaked key cannot outlive this, and a retired key's tokens end this long after its retirement.
MAX_ACCESS_TOKEN_SECONDS = 3600


class TokenError(Exception):
    """The token is not acceptable; the message says why (safe to show the caller)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str
    public_jwk: dict[str, Any]


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # Signed in through the organization's identity provider: signing re-authenticates there.
    sso: bool = field(default=False, compare=False)
    # The token's `iat`: a user whose tokens were revoked at some time is refused for older ones.
    issued_at: int = field(default=0, compare=False)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    # RFC 7638: the required members only, in lexicographic order.
    members = {k: public_jwk[k] for k in ("crv", "kty", "x", "y")}
    return sha256_hex(canonical_json(members))[:32]


def _new_private_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signing_key(private_pem: bytes) -> SigningKey:
    private = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise ValueError("not a P-256 (ES256) private key")
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = jwk.construct(public_pem.decode(), ALGORITHM).to_dict()
    public = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in public.items()}
    kid = _thumbprint(public)
    public.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return SigningKey(kid=kid, private_pem=private_pem.decode(), public_jwk=public)


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Read the PEM at `path`, generating a P-256 key there (mode 0600) on first run."""
    return _signing_key(read_or_create(path, _new_private_pem))


@dataclass(frozen=True)
class KeyRing:
    """A service's signing key and every public key it has published (current and retired)."""

    current: SigningKey
    published: dict[str, dict[str, Any]]


def load_key_ring(keys_dir: Path, name: str) -> KeyRing:
    files = KeyRingFiles(keys_dir, name)
    current = _signing_key(files.private_pem(_new_private_pem))
    published = {current.kid: current.public_jwk}
    for public in files.retired():
        published.setdefault(str(public["kid"]), public)
    return KeyRing(current=current, published=published)


def published_keys(keys_dir: Path, name: str) -> dict[str, dict[str, Any]]:
    """The ring's public keys as its files say now (current and retired; revoked ones are gone)."""
    return dict(load_key_ring(keys_dir, name).published)


def rotate_signing_key(keys_dir: Path, name: str) -> tuple[str, str]:
    """Retire the current key and create a new one; returns (retired kid, new kid).

    The retired key's private half is deleted and its public half stays published with its
    retirement time, so records it signed before then still verify, and tokens it signed stop
    working when they expire (at most MAX_ACCESS_TOKEN_SECONDS after the retirement).
    """
    return KeyRingFiles(keys_dir, name).rotate(_new_private_pem, lambda pem: _signing_key(pem).public_jwk)


def issue_access_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    principal: Principal,
    ttl_seconds: int,
    now: float | None = None,
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": principal.user_id,
        "preferred_username": principal.username,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if principal.sso:
        claims["sso"] = True
    token: str = jwt.encode(
        claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )
    return token


def verify_access_token(
    token: str, keys: dict[str, dict[str, Any]], *, issuer: str, audience: str
) -> Principal:
    """Check `token` against the published `keys` (kid -> public JWK); raise TokenError if not valid."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("token too large")
    try:
        header = jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise TokenError("malformed token") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise TokenError(f"algorithm {header.get('alg')!r} is not accepted")
    if header.get("typ") != TOKEN_TYPE:
        raise TokenError("wrong token type")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise TokenError("unknown signing key")
    try:
        claims = jwt.decode(
            token,
            keys[kid],
            algorithms=ALLOWED_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={
                "require_exp": True,
                "require_iss": True,
                "require_aud": True,
                "require_sub": True,
                "require_iat": True,
            },
        )
    except JOSEError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int):
        raise TokenError("invalid token: iat and exp must be whole seconds")
    if expires - issued > MAX_ACCESS_TOKEN_SECONDS:
        raise TokenError(f"token lifetime over {MAX_ACCESS_TOKEN_SECONDS} seconds")
    retired_at = keys[kid].get("retired_at")
    # `retired_at` is whole seconds: a token of the retirement's own second still counts as before.
    if retired_at is not None and not (isinstance(retired_at, int) and issued <= retired_at):
        raise TokenError("signed with a retired key after its retirement")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("invalid roles claim")
    return Principal(
        user_id=str(claims["sub"]),
        username=str(claims.get("preferred_username", "")),
        name=str(claims.get("name", "")),
        roles=frozenset(roles),
        sso=claims.get("sso") is True,
        issued_at=issued,
    )


# --- signed records (electronic signatures) --------------------------------------------------------
#
# Decisions and stage requirements are JWS over canonical JSON. Verification uses only the JWS
# primitive and the keys it is given: no clock, no network, so a workflow validator can run it and
# replay stays deterministic. Time rules (signed_at) are the caller's, with its own notion of now.


class SignatureError(Exception):
    """A signed record is not acceptable; the message says why."""


def sign_record(key: SigningKey, claims: dict[str, Any], *, typ: str) -> str:
    payload = canonical_json(claims)
    token: str = jws.sign(payload, key.private_pem, headers={"kid": key.kid, "typ": typ}, algorithm=ALGORITHM)
    return token


def verify_record(token: str, keys: dict[str, dict[str, Any]], *, typ: str) -> dict[str, Any]:
    """The claims of a record signed by one of `keys` (kid -> public JWK) with type `typ`."""
    if len(token) > MAX_TOKEN_BYTES * 4:
        raise SignatureError("signed record too large")
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as exc:
        raise SignatureError("malformed signed record") from exc
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise SignatureError(f"algorithm {header.get('alg')!r} is not accepted")
    if header.get("typ") != typ:
        raise SignatureError(f"not a {typ} record")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise SignatureError("signed with an unknown key")
    try:
        payload = jws.verify(token, keys[kid], algorithms=ALLOWED_ALGORITHMS)
    except JOSEError as exc:
        raise SignatureError(f"signature does not verify: {exc}") from exc
    try:
        claims = json.loads(payload)
    except ValueError as exc:
        raise SignatureError("signed payload is not JSON") from exc
    if not isinstance(claims, dict):
        raise SignatureError("signed payload is not an object")
    retired_at = keys[kid].get("retired_at")
    if retired_at is not None:
        _signed_before(claims, retired_at)
    return claims


def _signed_before(claims: dict[str, Any], retired_at: Any) -> None:
    """A retired key vouches only for what it signed before its retirement (by the record's own
    `signed_at`; the caller's time rules bound how far that can be back-dated)."""
    signed_at = claims.get("signed_at")
    if not isinstance(signed_at, str) or not signed_at or not isinstance(retired_at, int):
        raise SignatureError("signed with a retired key, and the record carries no signing time")
    try:
        when = datetime.fromisoformat(signed_at)
    except ValueError as exc:
        raise SignatureError("the signing time is not a valid timestamp") from exc
    if when.tzinfo is None or when.timestamp() >= retired_at + 1:  # whole seconds, as above
        raise SignatureError("signed with a retired key after its retirement")
