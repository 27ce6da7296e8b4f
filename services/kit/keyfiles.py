"""Secret files under var/keys/: created once, whole, mode 0600 (`read_or_create`: signing keys,
AES keys, the internal and SCIM tokens), and the signing-key rings: one layout, one rotation.

A key ring named NAME is `NAME.pem`, the private key it signs with now (PKCS#8 PEM, mode 0600),
`NAME.retired-<kid>.pub.json`, the public JWK of each key it signed with before, with the time it
was retired (`retired_at`, seconds since the epoch), and `NAME.revoked-<kid>.json` for each key
revoked outright. Rotation keeps the retired public half, so what it signed *before its
retirement* still verifies, and deletes the private half; revocation stops publishing the key,
so nothing it ever signed verifies any more.
What a key is (its algorithm, its public JWK and key id) is the caller's: the gateway's and the
review service's ES256 keys (services/kit/tokens.py) and the audit service's Ed25519 key
(services/audit/signing.py) share this file layout and nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.kit.files import write_beside

# The public JWK (with its "kid") of a private key given as PEM; raises ValueError for a file that
# does not hold the kind of key the ring is for.
PublicJwk = Callable[[bytes], dict[str, Any]]


def create_key_file(path: Path, content: bytes) -> None:
    """Create `path` (mode 0600) holding `content`, unless it exists: when several processes start
    at once, the first link wins and the others read its key."""
    temporary = write_beside(path, content, 0o600)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


# Which files in var/keys/ belong to which service (their names start so), for moving the files of
# a release that kept every service's keys in one folder into each service's own.
LEGACY_FILES = {
    "gateway": ("gateway-signing.", "scim-token"),
    "review": ("review-signing.",),
    "audit": ("audit-signing.",),
    "drafts": ("consent.key",),
    "publisher": (),
}
# The one secret every service held alike before each had its own: never read again.
LEGACY_SHARED_TOKEN = "internal-token"


def own_keys_dir(keys_dir: Path, service: str) -> Path:
    """`keys_dir/<service>` (mode 0700), with that service's files from `keys_dir` moved in."""
    path = keys_dir / service
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for prefix in LEGACY_FILES.get(service, ()):
        for old in keys_dir.glob(f"{prefix}*"):
            if old.is_file() and not (path / old.name).exists():
                os.replace(old, path / old.name)
    (keys_dir / LEGACY_SHARED_TOKEN).unlink(missing_ok=True)
    return path


def new_token() -> bytes:
    """A random credential (256 bits, URL-safe text) for a token file."""
    return secrets.token_urlsafe(32).encode()


def read_or_create(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The secret in `path`, created (with `generate`, mode 0600) by whoever asks first."""
    if not path.exists():
        create_key_file(path, generate())
    return path.read_bytes()


@dataclass(frozen=True)
class KeyRingFiles:
    keys_dir: Path
    name: str

    @property
    def current(self) -> Path:
        return self.keys_dir / f"{self.name}.pem"

    def retired_path(self, kid: str) -> Path:
        return self.keys_dir / f"{self.name}.retired-{kid}.pub.json"

    def revoked_path(self, kid: str) -> Path:
        return self.keys_dir / f"{self.name}.revoked-{kid}.json"

    def private_pem(self, generate: Callable[[], bytes]) -> bytes:
        """The current private key, generated (with `generate`, PEM) on first use."""
        return read_or_create(self.current, generate)

    def retired(self) -> list[dict[str, Any]]:
        """The public JWK of every retired (not revoked) key, with its `retired_at`, oldest file first.

        A key retired before `retired_at` was recorded counts as retired when its file was written.
        """
        revoked = set(self.revoked())
        found: list[dict[str, Any]] = []
        for path in sorted(self.keys_dir.glob(f"{self.name}.retired-*.pub.json")):
            public = json.loads(path.read_text())
            if not isinstance(public, dict) or not isinstance(public.get("kid"), str):
                raise ValueError(f"{path} is not a public JWK with a kid")
            if public["kid"] in revoked:
                continue
            if not isinstance(public.get("retired_at"), int):
                public["retired_at"] = int(path.stat().st_mtime)
            found.append(public)
        return found

    def revoked(self) -> list[str]:
        """The key ids revoked outright: published nowhere, trusted for nothing."""
        prefix = f"{self.name}.revoked-"
        return sorted(p.name[len(prefix) : -len(".json")] for p in self.keys_dir.glob(f"{prefix}*.json"))

    def revoke(self, kid: str, *, reason: str, at: float | None = None) -> None:
        """Revoke a retired key outright (rotate first to revoke the current one)."""
        retired = self.retired_path(kid)
        if not retired.exists():
            if self.revoked_path(kid).exists():
                raise ValueError(f"{self.name}: key {kid} is already revoked")
            raise FileNotFoundError(
                f"{self.name}: no retired key {kid} (rotate first to revoke the current key)"
            )
        record = {"kid": kid, "revoked_at": int(at if at is not None else time.time()), "reason": reason}
        revoked = self.revoked_path(kid)
        os.replace(write_beside(revoked, json.dumps(record, sort_keys=True).encode(), 0o644), revoked)
        retired.unlink()

    def rotate(
        self, generate: Callable[[], bytes], public_jwk: PublicJwk, *, at: float | None = None
    ) -> tuple[str, str]:
        """Retire the current key and sign with a new one from now on; (retired kid, new kid).

        The retired public JWK is written first and the new key then replaces the old one in one
        rename, so at every moment there is a current key and the retired one is published.
        """
        if not self.current.exists():
            raise FileNotFoundError(f"{self.current} does not exist; nothing to rotate")
        old = public_jwk(self.current.read_bytes())
        if "d" in old:  # the private member: publishing it would publish the key
            raise ValueError(f"{self.name}: the public JWK of the retired key holds its private half")
        old["retired_at"] = int(at if at is not None else time.time())
        retired = self.retired_path(str(old["kid"]))
        os.replace(write_beside(retired, json.dumps(old, sort_keys=True).encode(), 0o644), retired)
        new_pem = generate()
        new = public_jwk(new_pem)
        os.replace(write_beside(self.current, new_pem, 0o600), self.current)
        return str(old["kid"]), str(new["kid"])
