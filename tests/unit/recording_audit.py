"""The one stand-in for a service's AuditClient in unit tests: keeps every event it is asked to
append, as the audit service would record who acted, or fails like an outage when told to."""

from __future__ import annotations

from typing import Any

from services.kit.audit_client import actor_fields
from services.kit.errors import UpstreamUnavailable


class RecordingAudit:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.down = False

    async def append(self, **event: Any) -> dict[str, Any]:
        if self.down:
            raise UpstreamUnavailable("audit did not answer")
        self.events.append({**event, **actor_fields(event["actor"])})
        return {"seq": len(self.events), "hash": f"{len(self.events):064d}"}

    def actions(self) -> list[str]:
        return [e["action"] for e in self.events]
