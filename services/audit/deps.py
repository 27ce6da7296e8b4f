from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from opentelemetry import trace

from services.audit.export import AuditExporter
from services.audit.schemas import AuditEventIn
from services.audit.service import AuditService
from services.audit.signing import AuditKeyRing, AuditSigner
from services.audit.writer import AuditLog
from services.kit.auth import require_roles
from services.kit.deps import SessionDep
from services.kit.tokens import Principal

READER_ROLES = ("auditor", "admin")


def get_audit_service(session: SessionDep) -> AuditService:
    return AuditService(session)


AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]


def get_audit_log(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.audit_log
    return log


AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]


def get_signer(request: Request) -> AuditSigner:
    signer: AuditSigner = request.app.state.audit_signer
    return signer


SignerDep = Annotated[AuditSigner, Depends(get_signer)]


def get_key_ring(request: Request) -> AuditKeyRing:
    ring: AuditKeyRing = request.app.state.audit_keys
    return ring


KeyRingDep = Annotated[AuditKeyRing, Depends(get_key_ring)]


def get_exporter(request: Request) -> AuditExporter:
    exporter: AuditExporter = request.app.state.audit_exporter
    return exporter


ExporterDep = Annotated[AuditExporter, Depends(get_exporter)]

AuditReader = Annotated[Principal, require_roles(*READER_ROLES)]


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class RequestOrigin:
    """From where a request came: the request id the caller sent and the trace it runs in."""

    def __init__(self, request: Request) -> None:
        request_id = request.headers.get("x-request-id")
        self.request_id = request_id[:100] if request_id else None
        self.trace_id = current_trace_id()


OriginDep = Annotated[RequestOrigin, Depends(RequestOrigin)]


def read_event(
    principal: Principal,
    origin: RequestOrigin,
    *,
    key: str,
    action: str,
    subject: str,
    details: dict[str, object],
) -> AuditEventIn:
    """The audit event that records a read of the trail itself."""
    return AuditEventIn(
        idempotency_key=key,
        actor=principal.user_id,
        actor_name=principal.name,
        actor_roles=sorted(principal.roles),
        action=action,
        subject=subject,
        service="audit",
        request_id=origin.request_id,
        trace_id=origin.trace_id,
        details=details,
    )
