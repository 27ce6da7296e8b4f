from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import session_scope
from services.review.service import ReviewService


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_review_service(request: Request, session: SessionDep) -> ReviewService:
    state = request.app.state
    return ReviewService(
        session,
        policy=state.policy,
        audit=state.audit,
        temporal=state.temporal,
        credentials=state.credentials,
        screener=getattr(state, "screener", None),
        signer=getattr(state, "signer", None),
    )


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]
