from __future__ import annotations

import dataclasses

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.audit.deps import current_trace_id
from services.audit.schemas import AuditEventIn
from services.audit.writer import AuditLog
from services.kit.errors import Conflict, Unprocessable
from workflows.contracts import (
    APPEND_AUDIT_EVENT,
    POST_APPROVAL_WORKFLOW,
    REFUSED_CONFLICT,
    REFUSED_FORBIDDEN,
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
        """Append one event of an approval workflow, about that workflow's own draft.

        Who may schedule this activity at all is Temporal's to decide (mTLS, the authorizer and the
        payload key: docs/security.md); here an event must name the draft of the workflow it came
        from, and the workflow id it records is Temporal's, not the input's.
        """
        info = activity.info()
        workflow_id = info.workflow_id or ""
        own_subject = f"draft:{workflow_id.removeprefix('draft-')}"
        if info.workflow_type != POST_APPROVAL_WORKFLOW or event.subject != own_subject:
            raise ApplicationError(
                f"{info.workflow_type} {workflow_id} may record events about its own draft "
                f"only, not {event.subject!r}",
                type=REFUSED_FORBIDDEN,
                non_retryable=True,
            )
        fields = dataclasses.asdict(event)
        fields["details"] = {**fields["details"], "workflow_id": workflow_id}
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
