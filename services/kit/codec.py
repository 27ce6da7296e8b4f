"""Payload encryption for everything Clearpost sends through Temporal.

The Temporal UI and CLI show workflow history to anyone who can reach them; ids and hashes are
all the workflows need, but reasons, names and anything else that travels is encrypted here with
AES-256-GCM under a key from settings (CLEARPOST_PAYLOAD_KEY, base64) or var/keys/payload.key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from services.kit.settings import KitSettings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        if len(key) != 32:
            raise ValueError("the payload key must be 32 bytes (AES-256)")
        self._current = key_id(key)
        self._keys = {key_id(k): AESGCM(k) for k in (key, *previous)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        aead = self._keys[self._current]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(12)
            sealed = aead.encrypt(nonce, payload.SerializeToString(), self._current.encode())
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: self._current.encode()}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            kid = payload.metadata.get(KEY_ID, b"").decode()
            aead = self._keys.get(kid)
            if aead is None:
                raise ValueError(f"payload encrypted with unknown key {kid!r}")
            nonce, sealed = payload.data[:12], payload.data[12:]
            decoded.append(Payload.FromString(aead.decrypt(nonce, sealed, kid.encode())))
        return decoded


def load_payload_key(settings: KitSettings) -> bytes:
    if settings.payload_key:
        return base64.b64decode(settings.payload_key)
    path = settings.keys_dir / "payload.key"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
    return base64.b64decode(path.read_text().strip())
