"""The audit service's own Ed25519 key: it signs tree heads and exports, nothing else.

Separate from the gateway's token key on purpose: an auditor pins this key once and checks any
export offline with it. `services.audit.offline` holds the verifying half (it needs no service).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.offline import export_statement, key_id_for, public_jwk, tree_head_message

KEY_FILE = "audit-signing.pem"


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


def load_or_create_audit_key(path: Path) -> AuditSigner:
    """Read the PEM at `path`, generating an Ed25519 key there (mode 0600) on first run."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; use theirs
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return AuditSigner(key)
