"""What the audit service signs and how a reader checks it: tree heads, the export statement, its
Ed25519 public keys (RFC 8037 JWK) and consistency proofs. Pure: no database, no service."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit.merkle import hashes, verify_consistency

LOG_NAME = "clearpost-audit"


EXPORT_STATEMENT = "clearpost-audit-export"


TrustedKeys = dict[str, Ed25519PublicKey]


class ExportInvalid(Exception):
    """The export does not verify; the message says where and why."""

    def __init__(self, reason: str, *, line: int | None = None, seq: int | None = None) -> None:
        self.reason = reason
        self.line = line
        self.seq = seq
        where = ", ".join(
            part for part in (f"event seq {seq}" if seq else "", f"line {line}" if line else "") if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)


def _signed_json(value: dict[str, Any]) -> bytes:
    # Only ASCII strings and integers: sorted keys, no spaces, which is RFC 8785 for such values.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def tree_head_message(*, tree_size: int, root_hash: str, timestamp: str, key_id: str) -> bytes:
    return _signed_json(
        {
            "log": LOG_NAME,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "timestamp": timestamp,
            "key_id": key_id,
        }
    )


def export_statement(*, header_sha256: str, events: int, events_digest: str) -> bytes:
    return _signed_json(
        {
            "statement": EXPORT_STATEMENT,
            "header_sha256": header_sha256,
            "events": events,
            "events_digest": events_digest,
        }
    )


def key_id_for(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:32]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_raw: bytes) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(public_raw),
        "kid": key_id_for(public_raw),
        "alg": "EdDSA",
        "use": "sig",
    }


def _key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("the JWK is not an Ed25519 public key")
    x: str = jwk["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_public_keys(path: Path) -> TrustedKeys:
    """Trusted keys from a PEM public key, a JWK or a JWKS document (e.g. GET /api/v1/audit/public-key)."""
    data = path.read_bytes()
    keys: list[Ed25519PublicKey] = []
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("the PEM key is not an Ed25519 public key")
            keys.append(key)
        else:
            document = json.loads(data)
            items = document.get("keys", [document]) if isinstance(document, dict) else []
            keys.extend(_key_from_jwk(item) for item in items if isinstance(item, dict))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValueError(f"{path}: not an Ed25519 public key (PEM, JWK or JWKS): {exc}") from exc
    if not keys:
        raise ValueError(f"{path}: holds no Ed25519 public key")
    return {key_id_for(_raw(key)): key for key in keys}


def check_signature(keys: TrustedKeys, key_id: Any, signature: Any, message: bytes, what: str) -> None:
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise ExportInvalid(f"{what} is signed with key {key_id!r}, which is not a key you trust")
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, TypeError, ValueError, binascii.Error) as exc:
        raise ExportInvalid(f"{what}: signature does not verify with the trusted key") from exc


def check_tree_head(head: Any, keys: TrustedKeys | None, what: str = "tree head") -> tuple[int, bytes]:
    """(size, root) of a well-formed head; its signature checked when keys are given."""
    if not isinstance(head, dict):
        raise ExportInvalid(f"{what} is missing")
    size, root_hex, timestamp = head.get("tree_size"), head.get("root_hash"), head.get("timestamp")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ExportInvalid(f"{what}: tree_size must be a non-negative integer")
    if not isinstance(root_hex, str) or not isinstance(timestamp, str):
        raise ExportInvalid(f"{what}: root_hash and timestamp must be strings")
    try:
        root = bytes.fromhex(root_hex)
    except ValueError as exc:
        raise ExportInvalid(f"{what}: root_hash is not hex") from exc
    if len(root) != 32:
        raise ExportInvalid(f"{what}: root_hash is not a SHA-256 hash")
    if keys is not None:
        message = tree_head_message(
            tree_size=size, root_hash=root_hex, timestamp=timestamp, key_id=str(head.get("key_id"))
        )
        check_signature(keys, head.get("key_id"), head.get("signature"), message, what)
    return size, root


def check_consistency(old: Any, new: Any, proof: Any, keys: TrustedKeys | None) -> None:
    """The tree of `new` extends the tree of `old`: nothing in the first old.tree_size events changed."""
    old_size, old_root = check_tree_head(old, keys, "older tree head")
    new_size, new_root = check_tree_head(new, keys, "newer tree head")
    if old_size > new_size:
        raise ExportInvalid(
            f"the log shrank: a tree head signed at {old.get('timestamp')} covers {old_size} events,"
            f" the later one only {new_size}"
        )
    if old_size == 0:
        return
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise ExportInvalid("consistency proof must be a list of hex hashes")
    try:
        nodes = hashes(proof)
    except ValueError as exc:
        raise ExportInvalid("consistency proof holds something that is not a hex hash") from exc
    if not verify_consistency(old_size, new_size, nodes, old_root, new_root):
        raise ExportInvalid(
            f"the tree of size {new_size} does not extend the tree of size {old_size}:"
            " events before the older head were changed, removed or reordered"
        )
