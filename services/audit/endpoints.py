from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from services.audit.deps import (
    AuditLogDep,
    AuditReader,
    AuditServiceDep,
    ExporterDep,
    KeyRingDep,
    OriginDep,
    SignerDep,
    current_trace_id,
    read_event,
)
from services.audit.repository import AuditEventRepository, EventFilter
from services.audit.schemas import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    AuditEventAppended,
    AuditEventIn,
    AuditEventList,
    ConsistencyProofOut,
    PublicKeySet,
    TreeHeadOut,
    VerifyResult,
)
from services.kit.app import ErrorBody
from services.kit.auth import CallingService, InternalCaller
from services.kit.errors import NotFound

MAX_RECORD_EVENTS = 10_000
# The largest seq: a 32-bit INTEGER column. A larger after_seq would fail in the database (and could
# not be recorded with the query either: details hold JSON-safe numbers only).
MAX_SEQ = 2**31 - 1

router = APIRouter()


def _utc(value: datetime | None) -> str | None:
    """A filter bound in the exact format events' `at` is stored in (naive means UTC)."""
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def _read_key() -> str:
    return f"audit:read:{uuid.uuid4()}"


@router.post(
    "/internal/v1/events",
    status_code=status.HTTP_201_CREATED,
    tags=["internal"],
    responses={200: {"model": AuditEventAppended, "description": "the key was already used"}},
)
async def append_event(
    entry: AuditEventIn, response: Response, log: AuditLogDep, caller: CallingService
) -> AuditEventAppended:
    """Append one event. The service it names is the one whose credential called, whatever the
    body says: a compromised service can write events only as itself."""
    stamped: dict[str, object] = {"service": caller}
    if "service" in entry.details:
        stamped["details"] = {**entry.details, "service": caller}
    if entry.trace_id is None:
        stamped["trace_id"] = current_trace_id()
    entry = entry.model_copy(update=stamped)
    appended = await log.append(entry)
    if not appended.created:
        response.status_code = status.HTTP_200_OK
    event = appended.event
    return AuditEventAppended(seq=event.seq, hash=event.hash, at=event.at)


@router.get("/api/v1/audit/events", tags=["audit"])
async def list_events(
    principal: AuditReader,
    origin: OriginDep,
    audit: AuditServiceDep,
    log: AuditLogDep,
    draft_id: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> AuditEventList:
    """Events by seq (auditor, admin). The query itself is recorded after it is answered."""
    events = await audit.list_events(
        draft_id=draft_id, action=action, actor=actor, after_seq=after_seq, limit=limit
    )
    query = {"draft_id": draft_id, "action": action, "actor": actor, "after_seq": after_seq, "limit": limit}
    await log.append(
        read_event(
            principal,
            origin,
            key=_read_key(),
            action="audit.queried",
            subject="audit:events",
            details={"query": query, "returned": len(events)},
        )
    )
    return AuditEventList(events=events)


@router.get("/internal/v1/events", dependencies=[InternalCaller], tags=["internal"])
async def draft_history(
    audit: AuditServiceDep,
    log: AuditLogDep,
    draft_id: Annotated[str, Query(min_length=1, max_length=64)],
    reader: Annotated[str, Query(min_length=1, max_length=200)] = "service",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> AuditEventList:
    """One draft's own events, for a service that has already checked the reader may see the
    draft (the review UI's History panel). Scoped to the draft by construction; the full trail
    stays with auditors and admins. The read is itself recorded."""
    events = await audit.list_events(draft_id=draft_id, action=None, actor=None, after_seq=0, limit=limit)
    await log.append(
        AuditEventIn(
            idempotency_key=_read_key(),
            actor=reader,
            action="audit.draft_history_read",
            subject="audit:draft-history",  # not draft:<id>, so reads do not crowd the draft's own history
            service="audit",
            trace_id=current_trace_id(),
            details={"draft_id": draft_id, "returned": len(events)},
        )
    )
    return AuditEventList(events=events)


@router.get("/api/v1/audit/verify", tags=["audit"])
async def verify_log(
    principal: AuditReader, origin: OriginDep, audit: AuditServiceDep, log: AuditLogDep, keys: KeyRingDep
) -> VerifyResult:
    """Check the chain, the Merkle tree and every signed tree head (auditor, admin)."""
    result = await audit.verify(keys=keys.trusted_keys())
    await log.append(
        read_event(
            principal,
            origin,
            key=_read_key(),
            action="audit.verified",
            subject="audit:log",
            details=result.model_dump(),
        )
    )
    return result


@router.get(
    "/api/v1/audit/export",
    tags=["audit"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export, streamed: JSON Lines (`format=jsonl`, docs/audit.md) or CSV",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_events(
    principal: AuditReader,
    origin: OriginDep,
    exporter: ExporterDep,
    format: Literal["jsonl", "csv"] = "jsonl",
    since: datetime | None = None,
    until: datetime | None = None,
    draft_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> StreamingResponse:
    """Stream the log (auditor, admin): JSON Lines that verify offline, or CSV. The export is an event."""
    flt = EventFilter(since=_utc(since), until=_utc(until), draft_id=draft_id, actor=actor, action=action)
    prepared = await exporter.prepare(
        fmt=format,
        flt=flt,
        principal=principal,
        reason=reason,
        request_id=origin.request_id,
        trace_id=origin.trace_id,
    )
    stamp = prepared.head.timestamp[:19].replace(":", "")
    if format == "csv":
        body, media = exporter.csv(prepared), "text/csv; charset=utf-8"
    else:
        body, media = exporter.jsonl(prepared), "application/x-ndjson"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="clearpost-audit-{stamp}.{format}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/api/v1/audit/public-key", tags=["audit"])
async def public_key(keys: KeyRingDep) -> PublicKeySet:
    """The Ed25519 keys that sign tree heads and exports (public: pin them once, verify offline):
    the current key first, then each key retired by a rotation, so what it signed still verifies.
    `pem` is the current key."""
    return PublicKeySet(keys=keys.public_jwks(), pem=keys.current.public_pem())


@router.get("/api/v1/audit/tree-head", tags=["audit"])
async def tree_head(_: AuditReader, log: AuditLogDep) -> TreeHeadOut:
    """A tree head signed now over the whole log (auditor, admin); keep it to check consistency later."""
    head = await log.sign_tree_head()
    assert head is not None
    return TreeHeadOut(**head.as_dict())


@router.get(
    "/api/v1/audit/consistency",
    tags=["audit"],
    responses={
        404: {
            "model": ErrorBody,
            "description": "No such proof: the log has fewer than `second` events, or `first` is larger"
            " than `second` (a tree only extends a smaller one)",
        }
    },
)
async def consistency(
    _: AuditReader,
    audit: AuditServiceDep,
    first: Annotated[int, Query(ge=1, description="size of the older tree (events)")],
    second: Annotated[int, Query(ge=1, description="size of the newer tree: first <= second <= tree size")],
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof that the tree of size `second` extends the tree of size `first`."""
    return ConsistencyProofOut(first=first, second=second, proof=await audit.consistency_proof(first, second))


@router.get(
    "/api/v1/audit/drafts/{draft_id}/approval-record.pdf",
    tags=["audit"],
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def approval_record(
    draft_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    principal: AuditReader,
    origin: OriginDep,
    log: AuditLogDep,
    signer: SignerDep,
) -> Response:
    """The draft's signatures and chain of events as a PDF (auditor, admin); generating it is an event."""
    await log.append(
        read_event(
            principal,
            origin,
            key=_read_key(),
            action="audit.approval_record_generated",
            subject="audit:approval-record",
            details={"draft_id": draft_id},
        )
    )
    head = await log.sign_tree_head()
    assert head is not None
    async with log.sessionmaker() as session:
        events = list(
            await AuditEventRepository(session).page(
                EventFilter(draft_id=draft_id), after_seq=0, upto_seq=head.tree_size, limit=MAX_RECORD_EVENTS
            )
        )
    if not events:
        raise NotFound(f"the audit log has no events for draft {draft_id}")
    # Imported here: the PDF library (with fontTools and numpy) would double the service's memory.
    from services.audit.approval_record import approval_record_pdf

    pdf = approval_record_pdf(
        draft_id=draft_id,
        events=events,
        head=head,
        generated_at=log.now(),
        generated_by=f"{principal.name} ({principal.user_id})",
        public_key_id=signer.key_id,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="approval-record-{draft_id}.pdf"'},
    )
