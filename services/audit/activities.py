from __future__ import annotations

import dataclasses

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.audit.deps import current_trace_id
from services.audit.schemas import AuditEventIn
from services.audit.service import AuditLog
from services.kit.errors import Conflict, Unprocessable
from workflows.contracts import (
    APPEND_AUDIT_EVENT,
    REFUSED_CONFLICT,
    REFUSED_INVALID,
    AuditEventInput,
    AuditEventRecorded,
)

WORKFLOW_SERVICE = "workflows"


class AuditActivities:
    def __init__(self, log: AuditLog) -> None:
        # The same AuditLog as the HTTP route, so both paths share one append lock.
        self._log = log

    @activity.defn(name=APPEND_AUDIT_EVENT)
    async def append_audit_event(self, event: AuditEventInput) -> AuditEventRecorded:
        fields = dataclasses.asdict(event)
        # From where: the workflow (its id is in details) and the trace the activity runs in.
        fields.setdefault("service", None)
        fields["service"] = fields["service"] or WORKFLOW_SERVICE
        fields["trace_id"] = current_trace_id()
        try:
            entry = AuditEventIn.model_validate(fields)
        except ValidationError as exc:
            raise ApplicationError(str(exc), type=REFUSED_INVALID, non_retryable=True) from exc
        try:
            appended = await self._log.append(entry)
        except Conflict as exc:
            raise ApplicationError(exc.detail, type=REFUSED_CONFLICT, non_retryable=True) from exc
        except Unprocessable as exc:
            raise ApplicationError(exc.detail, type=REFUSED_INVALID, non_retryable=True) from exc
        return AuditEventRecorded(seq=appended.event.seq, hash=appended.event.hash)
