"""The one AES-256-GCM key ring: sealing, rotation, key files, and the formats stored with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from services.drafts.sealing import FieldSealer
from services.kit.codec import ENCODING, KEY_ID, EncryptionCodec, UnsealedPayload
from services.kit.sealing import KeyRing, SealError, key_id, load_key_ring

OLD, NEW = bytes(range(32)), bytes(range(32, 64))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_a_sealed_value_opens_with_its_context_only() -> None:
    ring = KeyRing(NEW)
    sealed = ring.seal(b"patient 4711", aad=b"consents:c-1:patient")

    assert ring.open(ring.current_id, sealed, aad=b"consents:c-1:patient") == b"patient 4711"
    with pytest.raises(SealError, match="does not open"):
        ring.open(ring.current_id, sealed, aad=b"consents:c-2:patient")  # copied into another row
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError, match="does not open"):
        ring.open(ring.current_id, tampered, aad=b"consents:c-1:patient")
    with pytest.raises(SealError, match="unknown key"):
        ring.open("0" * 16, sealed, aad=b"consents:c-1:patient")


def test_after_a_rotation_old_values_open_and_new_ones_use_the_new_key() -> None:
    before = KeyRing(OLD)
    sealed_before = before.seal(b"x", aad=b"a")
    after = KeyRing(NEW, previous=[OLD])

    assert after.open(before.current_id, sealed_before, aad=b"a") == b"x"
    assert after.current_id == key_id(NEW) and after.key_ids == [key_id(NEW), key_id(OLD)]
    with pytest.raises(SealError, match="unknown key"):
        KeyRing(NEW).open(before.current_id, sealed_before, aad=b"a")  # old key dropped too soon


@pytest.mark.parametrize(
    ("configured", "previous", "message"),
    [
        ("not base64!", [], "not base64"),
        (b64(b"short"), [], "32 bytes"),
        (b64(NEW), [b64(b"short")], "previous test key must be base64 of 32 bytes"),
    ],
)
def test_bad_keys_are_refused_with_a_reason(
    tmp_path: Path, configured: str, previous: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_key_ring(tmp_path / "k", configured, previous, what="test key")


def test_a_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "payload.key"
    with ThreadPoolExecutor(max_workers=8) as pool:  # every service starting at once
        rings = list(pool.map(lambda _: load_key_ring(path, None, what="payload key"), range(16)))

    assert len({ring.current_id for ring in rings}) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["payload.key"]  # no temporary left behind
    assert load_key_ring(path, None, what="payload key").current_id == rings[0].current_id
    path.write_text("garbage")
    with pytest.raises(ValueError, match=f"payload key in {path}"):
        load_key_ring(path, None, what="payload key")


def test_configured_keys_win_over_the_file(tmp_path: Path) -> None:
    ring = load_key_ring(tmp_path / "never.key", b64(NEW), [b64(OLD)], what="k")
    assert ring.key_ids == [key_id(NEW), key_id(OLD)] and not (tmp_path / "never.key").exists()


async def test_temporal_payloads_decode_across_a_rotation() -> None:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"reason":"a name"}')
    (old,) = await EncryptionCodec(KeyRing(OLD)).encode([payload])
    rotated = EncryptionCodec(KeyRing(NEW, previous=[OLD]))
    (new,) = await rotated.encode([payload])

    assert old.metadata["encoding"] == ENCODING and b"a name" not in old.data
    assert (old.metadata[KEY_ID], new.metadata[KEY_ID]) == (key_id(OLD).encode(), key_id(NEW).encode())
    assert await rotated.decode([old, new]) == [payload, payload]


async def test_payloads_not_sealed_with_the_key_ring_are_refused() -> None:
    """Whoever reaches Temporal without the payload key cannot hand a worker values of their own."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"author_id":"someone-else"}')
    (foreign,) = await EncryptionCodec(KeyRing(os.urandom(32))).encode([plain])
    codec = EncryptionCodec(KeyRing(NEW, previous=[OLD]))

    with pytest.raises(UnsealedPayload, match="not encrypted"):
        await codec.decode([plain])
    with pytest.raises(SealError, match="unknown key"):
        await codec.decode([foreign])
    tampered = Payload(metadata=dict(foreign.metadata), data=foreign.data)
    tampered.metadata[KEY_ID] = key_id(NEW).encode()
    with pytest.raises(SealError):
        await codec.decode([tampered])


def test_consent_fields_keep_their_stored_format_and_blind_index() -> None:
    """Values sealed before the key ring moved to services/kit still open; indexes still match."""
    nonce = os.urandom(12)
    stored = key_id(OLD).encode() + nonce + AESGCM(OLD).encrypt(nonce, b"Maria Lopez", b"consent:c-1")
    sealer = FieldSealer(KeyRing(OLD))

    assert sealer.open(stored, context="consent:c-1") == b"Maria Lopez"
    assert sealer.open(sealer.seal(b"v", context="c"), context="c") == b"v"
    index_key = hmac.new(OLD, b"clearpost blind index", hashlib.sha256).digest()
    expected = hmac.new(index_key, b"maria lopez", hashlib.sha256).hexdigest()
    assert sealer.blind_index("  Maria   LOPEZ ") == expected
