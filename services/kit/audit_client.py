"""Appending to the audit log from a service where a user is waiting (workflows use the activity)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import uuid
from collections.abc import AsyncIterator
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Protocol

import httpx

from services.kit.background import in_background
from services.kit.errors import ClearpostError
from services.kit.http import internal_json
from services.kit.tokens import Principal

log = logging.getLogger(__name__)

# Audit events of key rotations and revocations that `clearpost keys` could not deliver (the audit
# service did not answer), waiting in the rotating service's own key folder.
PENDING_KEY_EVENTS = "*.rotated-*.json"


def operator() -> str:
    """The actor of a command run by hand: the operator's login name."""
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this uid (e.g. a container)
        return f"operator:uid-{os.getuid()}"


def actor_fields(actor: str | Principal) -> dict[str, Any]:
    """Who acted, as the audit event records it: a signed-in user's id, printed name and roles at
    that moment, or a system actor's name."""
    if isinstance(actor, Principal):
        return {"actor": actor.user_id, "actor_name": actor.name, "actor_roles": sorted(actor.roles)}
    return {"actor": actor}


class AuditRecorder(Protocol):
    """What a service needs of the audit log: the AuditClient, or a test's stand-in."""

    async def append(
        self,
        *,
        actor: str | Principal,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]: ...


class AuditClient:
    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        self._http = http
        self._service = service

    async def append(
        self,
        *,
        actor: str | Principal,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Append one event; retrying with the same idempotency key never duplicates it.

        `actor` is the signed-in Principal (recorded as id, printed name and roles) or a system
        actor's name.
        """
        payload: dict[str, Any] = {
            "idempotency_key": idempotency_key or f"{self._service}:{uuid.uuid4()}",
            "action": action,
            "subject": subject,
            "details": {**(details or {}), "service": self._service},
            "service": self._service,
        }
        payload.update(actor_fields(actor))
        result: dict[str, Any] = await internal_json(self._http, "POST", "/internal/v1/events", json=payload)
        return result


def _pending(keys_dir: Path, delivered: AbstractSet[str] = frozenset()) -> list[tuple[Path, bytes]]:
    """The waiting events, oldest file name first (small files, read at once), but for those
    delivered by this process whose files could not be removed."""
    return [
        (path, path.read_bytes())
        for path in sorted(keys_dir.glob(PENDING_KEY_EVENTS))
        if path.name not in delivered
    ]


async def deliver_pending_key_events(
    http: httpx.AsyncClient, keys_dir: Path, delivered_here: set[str] | None = None
) -> int:
    """Append each waiting key event exactly as written (idempotent by its key), then drop its file;
    how many were delivered. One the audit service does not take now waits for the next try."""
    delivered = 0
    delivered_here = set() if delivered_here is None else delivered_here
    for path, content in _pending(keys_dir, delivered_here):
        try:
            await internal_json(
                http,
                "POST",
                "/internal/v1/events",
                content=content,
                headers={"Content-Type": "application/json"},
            )
        except ClearpostError as exc:
            log.warning("the key event in %s is not in the audit log yet: %s", path.name, exc.detail)
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            # A key folder mounted read-only (a Kubernetes Secret): the event is in the log, and
            # delivering it again at the next start appends nothing (the append is idempotent).
            log.info("the key event in %s is in the audit log; its file stays: %s", path.name, exc)
            delivered_here.add(path.name)
        delivered += 1
    return delivered


@contextlib.asynccontextmanager
async def delivering_pending_key_events(
    http: httpx.AsyncClient, keys_dir: Path, *, interval: float = 10.0
) -> AsyncIterator[None]:
    """While the service runs, deliver its waiting key events until none is left."""

    async def loop() -> None:
        delivered: set[str] = set()
        while _pending(keys_dir, delivered):
            await deliver_pending_key_events(http, keys_dir, delivered)
            await asyncio.sleep(interval)

    async with in_background(loop, name="pending-key-events"):
        yield
