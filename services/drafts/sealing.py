"""Field encryption at rest for what identifies a patient (consent records and their signed forms).

AES-256-GCM under a key from settings (CLEARPOST_CONSENT_KEY, base64) or var/keys/drafts/consent.key
(generated once, mode 0600). Each sealed value is `key id (16 hex) || nonce (12) || ciphertext`,
and the AAD names the column and row it belongs to, so a value copied into another row or
field does not decrypt. Earlier keys can be kept for reading while new values use the current one.
"""

from __future__ import annotations

from services.kit.sealing import FieldSealer, KeyRing, SealError, load_key_ring
from services.kit.settings import KitSettings

__all__ = ["FieldSealer", "SealError", "load_consent_keys"]


def load_consent_keys(settings: KitSettings, configured: str | None, previous: list[str]) -> KeyRing:
    """CLEARPOST_CONSENT_KEY, else var/keys/drafts/consent.key (created once, 0600)."""
    return load_key_ring(
        settings.service_keys_dir("drafts") / "consent.key", configured, previous, what="consent key"
    )
