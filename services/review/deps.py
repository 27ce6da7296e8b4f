from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import session_scope
from services.review.credentials import GatewayCredentialChecker
from services.review.service import ReviewService


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


# Commit before the response is sent (scope="function"), so a client never sees a 201 for a row
# that a following request cannot read yet.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_review_service(request: Request, session: SessionDep) -> ReviewService:
    state = request.app.state
    credentials = state.credentials
    if isinstance(credentials, GatewayCredentialChecker):
        # Behind the gateway, uvicorn has already put the browser's address here.
        credentials = credentials.on_behalf_of(request.client.host if request.client else None)
    return ReviewService(
        session,
        policy=state.policy,
        audit=state.audit,
        temporal=state.temporal,
        credentials=credentials,
        screener=getattr(state, "screener", None),
        signer=getattr(state, "signer", None),
        drafts=getattr(state, "drafts", None),
    )


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]
