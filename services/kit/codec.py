"""Payload encryption for everything Clearpost sends through Temporal.

The Temporal UI and CLI show workflow history to anyone who can reach them; ids and hashes are
all the workflows need, but reasons, names and anything else that travels is encrypted here with
AES-256-GCM under a key from settings (CLEARPOST_PAYLOAD_KEY, base64) or var/keys/payload.key.

Decoding refuses every payload that is not sealed with the current or a previous key: whoever can
reach Temporal without the key cannot start a workflow, send it an update or answer an activity
with values of their own choosing (a plain JSON `author_id`, a forged `check_consent` "ok").
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from services.kit.sealing import KeyRing, SealError, load_key_ring
from services.kit.settings import KitSettings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class UnsealedPayload(SealError):
    """A payload arrived that this deployment's key ring did not seal."""


class EncryptionCodec(PayloadCodec):
    """Each payload sealed whole; the key id travels in its metadata and is the AAD."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self._ring.current_id
        return [
            Payload(
                metadata={"encoding": ENCODING, KEY_ID: kid.encode()},
                data=self._ring.seal(payload.SerializeToString(), aad=kid.encode()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                raise UnsealedPayload(
                    "refused a Temporal payload that is not encrypted with the payload key "
                    f"(encoding {payload.metadata.get('encoding', b'').decode(errors='replace')!r})"
                )
            kid = payload.metadata.get(KEY_ID, b"").decode()
            decoded.append(Payload.FromString(self._ring.open(kid, payload.data, aad=kid.encode())))
        return decoded


def load_payload_keys(settings: KitSettings) -> KeyRing:
    """CLEARPOST_PAYLOAD_KEY, else var/keys/payload.key; CLEARPOST_PAYLOAD_PREVIOUS_KEYS still decode."""
    return load_key_ring(
        settings.keys_dir / "payload.key",
        settings.payload_key,
        settings.payload_previous_keys,
        what="payload key",
    )
