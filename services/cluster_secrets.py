"""`clearpost keys bootstrap OUT`: every secret a multi-host install needs, written once as files.

Under `make run` each service creates its keys and tokens on first use under var/keys/ and the
services of the machine find each other's token digests there. Processes on different hosts share
no folder, so an operator makes every secret up front and hands each process its own
(docs/deploy.md): as compose bind mounts, or as Kubernetes Secrets made from the folders.

    OUT/shared/              settings every process reads (CLEARPOST_SECRETS_DIR):
                             CLEARPOST_PAYLOAD_KEY, CLEARPOST_METRICS_TOKEN,
                             CLEARPOST_INTERNAL_CALLERS, and CLEARPOST_DATABASE_URL when given
    OUT/<service>/settings/  that service's own settings: CLEARPOST_INTERNAL_TOKEN, and its AES
                             keys (CLEARPOST_CONSENT_KEY, CLEARPOST_PUBLISHER_CREDENTIALS_KEY) or
                             the SCIM credential (CLEARPOST_GATEWAY_SCIM_TOKEN)
    OUT/<service>/keys/      its signing key ring (CLEARPOST_OWN_KEYS_DIR): gateway, review, audit

Each key is made by the code that uses it (the same loaders that create it on first use), so a
bootstrapped key is the key a service would have made itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from services.audit.signing import load_audit_key_ring
from services.kit.keyfiles import new_token
from services.kit.settings import SERVICE_NAMES
from services.kit.tokens import load_key_ring

SIGNING_RINGS: dict[str, Callable[[Path], object]] = {
    "gateway": lambda folder: load_key_ring(folder, "gateway-signing"),
    "review": lambda folder: load_key_ring(folder, "review-signing"),
    "audit": load_audit_key_ring,
}


def _aes_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _token() -> str:
    return new_token().decode()


# Service -> its own settings beyond its internal token: setting name -> how to make the value.
OWN_SETTINGS: dict[str, dict[str, Callable[[], str]]] = {
    "gateway": {"CLEARPOST_GATEWAY_SCIM_TOKEN": _token},
    "drafts": {"CLEARPOST_CONSENT_KEY": _aes_key},
    "publisher": {"CLEARPOST_PUBLISHER_CREDENTIALS_KEY": _aes_key},
    "review": {},
    "audit": {},
}


class BootstrapRefused(ValueError):
    """OUT already holds something: bootstrap never overwrites a secret."""


def _folder(path: Path) -> Path:
    """`path` and every missing folder above it, mode 0700."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            folder.mkdir(mode=0o700)
    return path


def _write(folder: Path, name: str, value: str) -> None:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value)


def bootstrap(out: Path, *, database_url: str | None = None) -> list[Path]:
    """Write every secret under `out` (which must be missing or empty); the folders written."""
    if out.exists() and any(out.iterdir()):
        raise BootstrapRefused(f"{out} is not empty: bootstrap writes new secrets only into an empty folder")
    written: list[Path] = []
    tokens = {service: _token() for service in SERVICE_NAMES}
    shared = _folder(out / "shared")
    _write(shared, "CLEARPOST_PAYLOAD_KEY", _aes_key())
    _write(shared, "CLEARPOST_METRICS_TOKEN", _token())
    callers = {service: hashlib.sha256(token.encode()).hexdigest() for service, token in tokens.items()}
    _write(shared, "CLEARPOST_INTERNAL_CALLERS", json.dumps(callers, sort_keys=True))
    if database_url:
        _write(shared, "CLEARPOST_DATABASE_URL", database_url)
    written.append(shared)
    for service in SERVICE_NAMES:
        settings = _folder(out / service / "settings")
        _write(settings, "CLEARPOST_INTERNAL_TOKEN", tokens[service])
        for name, make in OWN_SETTINGS[service].items():
            _write(settings, name, make())
        written.append(settings)
        if service in SIGNING_RINGS:
            keys = _folder(out / service / "keys")
            SIGNING_RINGS[service](keys)
            written.append(keys)
    return written
