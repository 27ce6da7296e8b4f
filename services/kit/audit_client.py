"""Appending to the audit log from a service where a user is waiting (workflows use the activity)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.kit.http import internal_json


class AuditClient:
    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        self._http = http
        self._service = service

    async def append(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Append one event; retrying with the same idempotency key never duplicates it."""
        payload = {
            "idempotency_key": idempotency_key or f"{self._service}:{uuid.uuid4()}",
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": {**(details or {}), "service": self._service},
        }
        result: dict[str, Any] = await internal_json(self._http, "POST", "/internal/v1/events", json=payload)
        return result
