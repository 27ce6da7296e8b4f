"""Field encryption at rest for what identifies a patient (consent records and their signed forms).

AES-256-GCM under a key from settings (CLEARPOST_CONSENT_KEY, base64) or var/keys/drafts/consent.key
(generated once, mode 0600). Each sealed value is `key id (16 hex) || nonce (12) || ciphertext`,
and the AAD names the column and row it belongs to, so a value copied into another row or
field does not decrypt. Earlier keys can be kept for reading while new values use the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from services.kit.sealing import KEY_ID_LENGTH, KeyRing, SealError, load_key_ring
from services.kit.settings import KitSettings

__all__ = ["FieldSealer", "SealError", "load_consent_keys"]


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


def load_consent_keys(settings: KitSettings, configured: str | None, previous: list[str]) -> KeyRing:
    """CLEARPOST_CONSENT_KEY, else var/keys/drafts/consent.key (created once, 0600)."""
    return load_key_ring(
        settings.service_keys_dir("drafts") / "consent.key", configured, previous, what="consent key"
    )
