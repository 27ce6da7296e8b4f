"""Appending to the audit log from a service where a user is waiting (workflows use the activity)."""

from __future__ import annotations

import getpass
import os
import uuid
from typing import Any

import httpx

from services.kit.http import internal_json
from services.kit.tokens import Principal


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
