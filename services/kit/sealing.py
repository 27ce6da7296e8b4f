"""AES-256-GCM under a ring of keys: the one way Clearpost encrypts data it keeps or sends.

Temporal payloads (services/kit/codec.py), consent records (services/drafts/sealing.py) and
review-UI sessions seal with the ring's current key and open with any key of the ring, named by
its key id (the first 16 hex digits of SHA-256 of the key). Rotating a key is: put the new key
first and keep the old ones as `previous` until nothing sealed with them is left.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kit.keyfiles import read_or_create

KEY_BYTES = 32
KEY_ID_LENGTH = 16
NONCE_LENGTH = 12


class SealError(ValueError):
    """A sealed value could not be opened (unknown key, wrong context, or tampered with)."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH]


class KeyRing:
    def __init__(self, key: bytes, *, previous: Sequence[bytes] = (), what: str = "key") -> None:
        for candidate in (key, *previous):
            if len(candidate) != KEY_BYTES:
                raise ValueError(f"the {what} must be {KEY_BYTES} bytes (AES-256)")
        self.current_id = key_id(key)
        self._current = key
        self._keys = {key_id(k): AESGCM(k) for k in (key, *previous)}

    def derive(self, label: bytes) -> bytes:
        """A key for another purpose, bound to the current key: HMAC-SHA256(key, label)."""
        return hmac.new(self._current, label, hashlib.sha256).digest()

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        """nonce || ciphertext under the current key (whose id the caller stores alongside)."""
        nonce = os.urandom(NONCE_LENGTH)
        return nonce + self._keys[self.current_id].encrypt(nonce, plaintext, aad)

    def open(self, kid: str, sealed: bytes, *, aad: bytes) -> bytes:
        aead = self._keys.get(kid)
        if aead is None:
            raise SealError(f"sealed with an unknown key {kid!r}")
        try:
            return aead.decrypt(sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:], aad)
        except InvalidTag as exc:
            raise SealError("the sealed value does not open with this key and context") from exc


def decode_key(value: str, *, what: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the {what} is not base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"the {what} must be base64 of {KEY_BYTES} bytes (AES-256)")
    return key


def load_key_ring(path: Path, configured: str | None, previous: Sequence[str] = (), *, what: str) -> KeyRing:
    """The configured key (base64), else the key in `path`, created once (mode 0600); previous
    keys (base64) still open what was sealed with them."""
    if configured:
        key = decode_key(configured, what=what)
    else:
        stored = read_or_create(path, lambda: base64.b64encode(AESGCM.generate_key(bit_length=256)))
        key = decode_key(stored.decode(errors="replace"), what=f"{what} in {path}")
    return KeyRing(key, previous=[decode_key(p, what=f"previous {what}") for p in previous], what=what)


class FieldSealer:
    """Stored values: `key id (16 hex) || nonce || ciphertext`, the AAD naming column and row."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        # Keyed by the current key: after a rotation, stored indexes must be recomputed.
        self._index_key = ring.derive(b"clearpost blind index")

    @property
    def key_id(self) -> str:
        return self._ring.current_id

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return self._ring.current_id.encode() + self._ring.seal(plaintext, aad=context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        kid = sealed[:KEY_ID_LENGTH].decode(errors="replace")
        return self._ring.open(kid, sealed[KEY_ID_LENGTH:], aad=context.encode())

    def blind_index(self, value: str) -> str:
        """A keyed hash to look a value up by equality without storing it (case and spaces ignored)."""
        normalized = " ".join(value.split()).casefold()
        return hmac.new(self._index_key, normalized.encode(), hashlib.sha256).hexdigest()

    def seal_json(self, value: Any, *, context: str) -> bytes:
        return self.seal(json.dumps(value, sort_keys=True).encode(), context=context)

    def open_json(self, sealed: bytes, *, context: str) -> Any:
        return json.loads(self.open(sealed, context=context))
