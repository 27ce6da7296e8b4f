from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from services.drafts.consents import ConsentService
from services.drafts.draft_media import DraftMediaService
from services.drafts.service import DraftService
from services.drafts.takedowns import TakedownService
from services.kit.deps import SessionDep

Service = TypeVar("Service", bound=DraftService)


def _draft_service_of(kind: type[Service], request: Request, session: Any) -> Service:
    state = request.app.state
    return kind(
        session,
        audit=state.audit,
        temporal=state.temporal,
        channels=state.channels,
        media_store=state.media_store,
        publish_deadline_seconds=state.settings.publish_deadline_seconds,
        reads=state.recent_reads,
    )


def get_draft_service(request: Request, session: SessionDep) -> DraftService:
    return _draft_service_of(DraftService, request, session)


DraftServiceDep = Annotated[DraftService, Depends(get_draft_service)]


def get_consent_service(request: Request, session: SessionDep) -> ConsentService:
    state = request.app.state
    return ConsentService(
        session,
        audit=state.audit,
        sealer=state.sealer,
        channels=state.channels,
        temporal=state.temporal,
        publisher=getattr(state, "publisher", None),
    )


ConsentServiceDep = Annotated[ConsentService, Depends(get_consent_service)]


def get_takedown_service(request: Request, session: SessionDep) -> TakedownService:
    return TakedownService(session, audit=request.app.state.audit)


TakedownServiceDep = Annotated[TakedownService, Depends(get_takedown_service)]


def get_draft_media_service(request: Request, session: SessionDep) -> DraftMediaService:
    return _draft_service_of(DraftMediaService, request, session)


DraftMediaServiceDep = Annotated[DraftMediaService, Depends(get_draft_media_service)]
