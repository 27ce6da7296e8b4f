from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import AuditLog, AuditService
from services.kit.db import session_scope


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_audit_service(session: SessionDep) -> AuditService:
    return AuditService(session)


AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]


def get_audit_log(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.audit_log
    return log


AuditLogDep = Annotated[AuditLog, Depends(get_audit_log)]
