"""Field encryption at rest for what identifies a patient (consent records and their signed forms).

AES-256-GCM under a key from settings (CLEARPOST_CONSENT_KEY, base64) or var/keys/consent.key
(generated once, mode 0600). Each sealed value is `key id (16 hex) || nonce (12) || ciphertext`,
and the AAD names the column and row it belongs to, so a value copied into another row or
field does not decrypt. Earlier keys can be kept for reading while new values use the current one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kit.settings import KitSettings

KEY_ID_LENGTH = 16
NONCE_LENGTH = 12


class SealError(ValueError):
    """A sealed value could not be opened (wrong key, wrong row, or tampered with)."""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH].encode()


class FieldSealer:
    def __init__(self, key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        if len(key) != 32:
            raise ValueError("the field encryption key must be 32 bytes (AES-256)")
        self._current = _key_id(key)
        self._keys = {_key_id(k): AESGCM(k) for k in (key, *previous)}
        self._index_key = hmac.new(key, b"clearpost blind index", hashlib.sha256).digest()

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = os.urandom(NONCE_LENGTH)
        sealed = self._keys[self._current].encrypt(nonce, plaintext, context.encode())
        return self._current + nonce + sealed

    def open(self, sealed: bytes, *, context: str) -> bytes:
        kid, rest = sealed[:KEY_ID_LENGTH], sealed[KEY_ID_LENGTH:]
        aead = self._keys.get(kid)
        if aead is None:
            raise SealError(f"sealed with an unknown key {kid.decode(errors='replace')!r}")
        try:
            return aead.decrypt(rest[:NONCE_LENGTH], rest[NONCE_LENGTH:], context.encode())
        except InvalidTag as exc:
            raise SealError("the sealed value does not open with this key and context") from exc

    def blind_index(self, value: str) -> str:
        """A keyed hash to look a value up by equality without storing it (case and spaces ignored)."""
        normalized = " ".join(value.split()).casefold()
        return hmac.new(self._index_key, normalized.encode(), hashlib.sha256).hexdigest()

    def seal_json(self, value: Any, *, context: str) -> bytes:
        return self.seal(json.dumps(value, sort_keys=True).encode(), context=context)

    def open_json(self, sealed: bytes, *, context: str) -> Any:
        return json.loads(self.open(sealed, context=context))


def load_consent_key(settings: KitSettings, configured: str | None) -> bytes:
    """The consent key from settings, else var/keys/consent.key (created once, 0600)."""
    if configured:
        key = base64.b64decode(configured)
    else:
        path = settings.keys_dir / "consent.key"
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
        key = base64.b64decode(path.read_text().strip())
    if len(key) != 32:
        raise ValueError("the consent key must be 32 bytes (base64 of AES-256 key)")
    return key
