from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.audit.deps import AuditLogDep, AuditServiceDep
from services.audit.schemas import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    AuditEventAppended,
    AuditEventIn,
    AuditEventList,
    VerifyResult,
)
from services.kit.auth import InternalCaller, require_roles

READER_ROLES = ("auditor", "admin")

router = APIRouter()


@router.post(
    "/internal/v1/events",
    status_code=status.HTTP_201_CREATED,
    dependencies=[InternalCaller],
    tags=["internal"],
    responses={200: {"model": AuditEventAppended, "description": "the key was already used"}},
)
async def append_event(entry: AuditEventIn, response: Response, log: AuditLogDep) -> AuditEventAppended:
    appended = await log.append(entry)
    if not appended.created:
        response.status_code = status.HTTP_200_OK
    event = appended.event
    return AuditEventAppended(seq=event.seq, hash=event.hash, at=event.at)


@router.get("/api/v1/audit/events", dependencies=[require_roles(*READER_ROLES)], tags=["audit"])
async def list_events(
    audit: AuditServiceDep,
    draft_id: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = DEFAULT_LIST_LIMIT,
) -> AuditEventList:
    events = await audit.list_events(
        draft_id=draft_id, action=action, actor=actor, after_seq=after_seq, limit=limit
    )
    return AuditEventList(events=events)


@router.get("/api/v1/audit/verify", dependencies=[require_roles(*READER_ROLES)], tags=["audit"])
async def verify_chain(audit: AuditServiceDep) -> VerifyResult:
    return await audit.verify()
