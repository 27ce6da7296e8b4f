from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.drafts.consents import ConsentService
from services.drafts.service import DraftService
from services.kit.db import session_scope


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


# scope="function": commit (or roll back) before the response is sent. With the default request
# scope FastAPI sends the response first, so a client's next request could miss what it was just
# told exists, and a failed commit would follow a 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_draft_service(request: Request, session: SessionDep) -> DraftService:
    state = request.app.state
    return DraftService(
        session,
        audit=state.audit,
        temporal=state.temporal,
        channels=state.channels,
        media_store=state.media_store,
        publish_deadline_seconds=state.settings.publish_deadline_seconds,
    )


DraftServiceDep = Annotated[DraftService, Depends(get_draft_service)]


def get_consent_service(request: Request, session: SessionDep) -> ConsentService:
    state = request.app.state
    return ConsentService(
        session, audit=state.audit, sealer=state.sealer, channels=state.channels, temporal=state.temporal
    )


ConsentServiceDep = Annotated[ConsentService, Depends(get_consent_service)]
