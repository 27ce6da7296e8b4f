from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.kit.auth import CurrentPrincipal
from services.publisher.deps import ChannelsDep, PublicationServiceDep
from services.publisher.schemas import ChannelList, ChannelOut, PublicationList, PublicationOut

router = APIRouter(prefix="/api/v1", tags=["publisher"])


@router.get("/publications", response_model=PublicationList)
async def list_publications(
    principal: CurrentPrincipal,
    publications: PublicationServiceDep,
    draft_id: Annotated[str, Query(min_length=1, max_length=36)],
) -> PublicationList:
    """The publication records of one draft, for those who may read the draft (its author, the
    reviewing, publishing, auditing and admin roles), as the drafts service decides."""
    rows = await publications.list_for_draft(draft_id, principal)
    return PublicationList(publications=[PublicationOut.model_validate(row) for row in rows])


@router.get("/channels", response_model=ChannelList)
async def list_channels(_: CurrentPrincipal, channels: ChannelsDep) -> ChannelList:
    return ChannelList(channels=[ChannelOut(name=c.name, max_length=c.max_length) for c in channels.values()])
