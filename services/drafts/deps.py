from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.drafts.service import DraftService
from services.kit.db import session_scope


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_draft_service(request: Request, session: SessionDep) -> DraftService:
    state = request.app.state
    return DraftService(
        session,
        audit=state.audit,
        temporal=state.temporal,
        channels=state.channels,
    )


DraftServiceDep = Annotated[DraftService, Depends(get_draft_service)]
