from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import session_scope
from services.publisher.channels import Channel
from services.publisher.service import PublicationService


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_scope(request.app.state.sessionmaker) as session:
        yield session


# Commit before the response is sent (scope="function"), so a client never sees a 201 for a row
# that a following request cannot read yet.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_publication_service(request: Request, session: SessionDep) -> PublicationService:
    return PublicationService(session, drafts=request.app.state.drafts)


PublicationServiceDep = Annotated[PublicationService, Depends(get_publication_service)]


def get_channels(request: Request) -> Mapping[str, Channel]:
    channels: Mapping[str, Channel] = request.app.state.channels
    return channels


ChannelsDep = Annotated[Mapping[str, Channel], Depends(get_channels)]
