from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from services.kit.deps import SessionDep
from services.publisher.channels import Channel
from services.publisher.service import PublicationService


def get_publication_service(request: Request, session: SessionDep) -> PublicationService:
    return PublicationService(session, drafts=request.app.state.drafts)


PublicationServiceDep = Annotated[PublicationService, Depends(get_publication_service)]


def get_channels(request: Request) -> Mapping[str, Channel]:
    channels: Mapping[str, Channel] = request.app.state.channels
    return channels


ChannelsDep = Annotated[Mapping[str, Channel], Depends(get_channels)]
