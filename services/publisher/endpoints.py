from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from services.kit.auth import CurrentPrincipal, require_roles
from services.kit.errors import NotFound
from services.publisher.deps import DirectoryDep, PublicationServiceDep, TakedownServiceDep
from services.publisher.directory import ChannelDirectory, UnknownChannels
from services.publisher.renditions import check_renditions
from services.publisher.schemas import (
    ChannelList,
    ChannelOut,
    LivePostList,
    LivePostOut,
    PublicationList,
    PublicationOut,
    RenditionList,
    RenditionOut,
    RenditionsIn,
)

router = APIRouter(prefix="/api/v1", tags=["publisher"])
STAFF = ("publisher", "compliance", "legal", "medical", "auditor", "admin")


@router.get("/publications", response_model=PublicationList)
async def list_publications(
    principal: CurrentPrincipal,
    publications: PublicationServiceDep,
    draft_id: Annotated[str, Query(min_length=1, max_length=36)],
) -> PublicationList:
    """The publication records of one draft (with each post's public URL and, once taken down, the
    network's answer), for those who may read the draft (its author, the reviewing, publishing,
    auditing and admin roles), as the drafts service decides."""
    rows = await publications.list_for_draft(draft_id, principal)
    return PublicationList(publications=[PublicationOut.model_validate(row) for row in rows])


@router.get("/channels", response_model=ChannelList)
async def list_channels(_: CurrentPrincipal, directory: DirectoryDep) -> ChannelList:
    """Every channel a draft may name: configured channels and connected accounts, with their
    length rule and whether they can be used now (`usable`; `reason` says why not)."""
    return await channel_list(directory)


async def channel_list(directory: ChannelDirectory) -> ChannelList:
    entries = await directory.entries()
    return ChannelList(
        channels=[
            ChannelOut(
                name=e.name,
                max_length=e.max_length,
                network=e.network,
                unit=e.unit,
                status=e.status,
                reason=e.reason,
                paused=e.paused,
                usable=e.usable,
                fold=e.fold,
            )
            for e in entries
        ]
    )


@router.post("/renditions", response_model=RenditionList)
async def renditions(_: CurrentPrincipal, data: RenditionsIn, directory: DirectoryDep) -> RenditionList:
    """What each channel will show of a body (exactly the body: nothing is rewritten or cut), its
    length as that network counts it, and what keeps it from fitting. Unknown channels: 400."""
    try:
        checks = await check_renditions(
            directory, body=data.body, channels=data.channels, media_count=data.media_count
        )
    except UnknownChannels as exc:
        raise NotFound(f"unknown channel(s): {', '.join(exc.names)}", code="unknown_channel") from exc
    return RenditionList(
        renditions=[
            RenditionOut(
                channel=c.channel,
                network=c.network,
                text=c.text,
                length=c.length,
                max_length=c.max_length,
                unit=c.unit,
                fold=c.fold,
                fits=c.fits,
                problems=c.problems,
            )
            for c in checks
        ]
    )


@router.get("/live-posts", response_model=LivePostList, dependencies=[require_roles(*STAFF)])
async def list_live_posts(
    takedowns: TakedownServiceDep,
    start: datetime | None = None,
    end: datetime | None = None,
    expiring_within_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> LivePostList:
    """Posts that went live (by publication time, `start` <= t < `end`; none when `end` is not
    after `start`), or, with
    `expiring_within_days`, the live ones whose approved lifetime ends within that many days."""
    if expiring_within_days is not None:
        rows = await takedowns.expiring(timedelta(days=expiring_within_days))
    else:
        rows = await takedowns.published_between(start, end)
    return LivePostList(live_posts=[LivePostOut.model_validate(row) for row in rows])
