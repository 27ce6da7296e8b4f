"""The audit service's own Ed25519 key: it signs tree heads and exports, nothing else.

Separate from the gateway's token key on purpose: an auditor pins this key once and checks any
export offline with it. `services.audit.offline` holds the verifying half (it needs no service).
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.schemas import AuditEventIn
from services.audit.signed_formats import (
    TrustedKeys,
    export_statement,
    key_id_for,
    public_jwk,
    tree_head_message,
)
from services.kit.keyfiles import KeyRingFiles, create_key_file, read_or_create

KEY_NAME = "audit-signing"
KEY_FILE = f"{KEY_NAME}.pem"


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    root_hash: str  # hex
    timestamp: str  # ISO 8601, UTC, server time
    key_id: str
    signature: str  # base64 Ed25519 over tree_head_message(...)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
        }


class AuditSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_raw = raw
        self.key_id = key_id_for(raw)

    @classmethod
    def generate(cls) -> AuditSigner:
        return cls(Ed25519PrivateKey.generate())

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.public_raw)

    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def _sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()

    def sign_tree_head(self, *, tree_size: int, root_hash: str, timestamp: str) -> SignedTreeHead:
        message = tree_head_message(
            tree_size=tree_size, root_hash=root_hash, timestamp=timestamp, key_id=self.key_id
        )
        return SignedTreeHead(tree_size, root_hash, timestamp, self.key_id, self._sign(message))

    def sign_export(self, *, header_sha256: str, events: int, events_digest: str) -> str:
        return self._sign(
            export_statement(header_sha256=header_sha256, events=events, events_digest=events_digest)
        )


def _public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 key of a published JWK whose kid is that key's id (a retired key's file)."""
    x = jwk.get("x")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(x, str):
        raise ValueError(f"retired audit key {jwk.get('kid')!r} is not an Ed25519 public JWK")
    raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    if len(raw) != 32 or key_id_for(raw) != jwk.get("kid"):
        raise ValueError(f"retired audit key {jwk.get('kid')!r}: its kid does not match its key")
    return Ed25519PublicKey.from_public_bytes(raw)


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signer(private_pem: bytes, where: str) -> AuditSigner:
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{where} does not hold an Ed25519 private key")
    return AuditSigner(key)


def load_or_create_audit_key(path: Path) -> AuditSigner:
    """Read the PEM at `path`, generating an Ed25519 key there (mode 0600) on first run."""
    return _signer(read_or_create(path, _new_private_pem), str(path))


@dataclass(frozen=True)
class AuditKeyRing:
    """The key that signs now, and the public halves of the keys that signed before a rotation."""

    current: AuditSigner
    retired: tuple[dict[str, str], ...] = ()

    def public_jwks(self) -> list[dict[str, str]]:
        """Every published key, the current one first: what GET /api/v1/audit/public-key serves."""
        current = self.current.public_jwk()
        return [current, *(k for k in self.retired if k["kid"] != current["kid"])]

    def trusted_keys(self) -> TrustedKeys:
        """kid -> public key, for checking the heads this service signed with any of its keys."""
        keys = {jwk["kid"]: _public_key(jwk) for jwk in self.retired}
        keys[self.current.key_id] = self.current.public_key()
        return keys


def audit_key_files(keys_dir: Path) -> KeyRingFiles:
    return KeyRingFiles(keys_dir, KEY_NAME)


def load_audit_key_ring(keys_dir: Path) -> AuditKeyRing:
    files = audit_key_files(keys_dir)
    current = _signer(files.private_pem(_new_private_pem), str(files.current))
    retired = []
    for jwk in files.retired():
        _public_key(jwk)  # a file that is not one of this ring's keys stops the service here
        retired.append({k: str(v) for k, v in jwk.items()})
    return AuditKeyRing(current=current, retired=tuple(retired))


@dataclass(frozen=True)
class KeyRotation:
    retired_key_id: str
    key_id: str
    event: AuditEventIn  # the audit event that records it
    pending: Path  # the event, until the audit log has it (appended at the service's next start)


def record_rotation_pending(
    keys_dir: Path, *, ring: str, service: str, retired: str, current: str, actor: str, at: datetime
) -> KeyRotation:
    """The audit event of a signing-key rotation (any service's ring), written beside the keys
    first: whoever appends it to the log (the command, when the audit service answers, or the
    audit service at its next start) removes the file."""
    event = AuditEventIn(
        idempotency_key=f"{service}:signing-key-rotated:{retired}",
        actor=actor,
        actor_name=actor,
        action=f"{service}.signing_key_rotated",
        subject=f"{service}:signing-key",
        service=service,
        details={"retired_key_id": retired, "key_id": current, "rotated_at": at.isoformat()},
    )
    pending = keys_dir / f"{ring}.rotated-{retired}.json"
    create_key_file(pending, event.model_dump_json(exclude_none=True).encode())
    return KeyRotation(retired_key_id=retired, key_id=current, event=event, pending=pending)


def record_revocation_pending(
    keys_dir: Path, *, ring: str, service: str, revoked: str, reason: str, actor: str, at: datetime
) -> Path:
    """The audit event of revoking a signing key outright, written beside the keys first like a
    rotation's (the same file pattern, so the same replay appends it); the pending file's path."""
    event = AuditEventIn(
        idempotency_key=f"{service}:signing-key-revoked:{revoked}",
        actor=actor,
        actor_name=actor,
        action=f"{service}.signing_key_revoked",
        subject=f"{service}:signing-key",
        service=service,
        reason=reason,
        details={"revoked_key_id": revoked, "revoked_at": at.isoformat()},
    )
    pending = keys_dir / f"{ring}.rotated-revoked-{revoked}.json"
    create_key_file(pending, event.model_dump_json(exclude_none=True).encode())
    return pending


def rotate_audit_key(keys_dir: Path, *, actor: str, at: datetime) -> KeyRotation:
    """Retire the audit signing key (its public half stays published) and create a new one."""
    retired, current = audit_key_files(keys_dir).rotate(
        _new_private_pem, lambda pem: _signer(pem, KEY_NAME).public_jwk()
    )
    return record_rotation_pending(
        keys_dir, ring=KEY_NAME, service="audit", retired=retired, current=current, actor=actor, at=at
    )


def pending_rotations(keys_dir: Path) -> list[tuple[Path, AuditEventIn]]:
    """Rotation events of any signing ring in keys_dir not yet in the audit log, oldest file first."""
    return [
        (path, AuditEventIn.model_validate_json(path.read_bytes()))
        for path in sorted(keys_dir.glob("*.rotated-*.json"))
    ]


async def record_pending_rotations(
    append: Callable[[AuditEventIn], Awaitable[object]], keys_dir: Path
) -> int:
    """Append the rotation events the command could not deliver (the service was not running);
    idempotent, so one the command did deliver but could not clear is not recorded twice."""
    recorded = 0
    for path, event in pending_rotations(keys_dir):
        await append(event)
        path.unlink(missing_ok=True)
        recorded += 1
    return recorded
