from __future__ import annotations

from fastapi import APIRouter, Request, status

from services.drafts.deps import DraftServiceDep
from services.drafts.schemas import DraftIn, DraftList, DraftOut, VersionContent, VersionList, WithdrawIn
from services.kit.auth import CurrentPrincipal, InternalCaller

router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"])
internal = APIRouter(prefix="/internal/v1/drafts", tags=["internal"], dependencies=[InternalCaller])


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").partition(" ")[2]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DraftOut)
async def create_draft(
    data: DraftIn, principal: CurrentPrincipal, service: DraftServiceDep, request: Request
) -> DraftOut:
    """Create a draft (version 1). Authors only."""
    return await service.create(data, principal, _bearer(request))


@router.get("", response_model=DraftList)
async def list_drafts(principal: CurrentPrincipal, service: DraftServiceDep) -> DraftList:
    """The caller's own drafts; reviewing staff see every draft."""
    return DraftList(drafts=await service.list(principal))


@router.get("/{draft_id}", response_model=DraftOut)
async def get_draft(draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep) -> DraftOut:
    return await service.get(draft_id, principal)


@router.get("/{draft_id}/versions", response_model=VersionList)
async def list_versions(draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep) -> VersionList:
    """Every version of the draft, oldest first (the author and reviewing staff)."""
    return VersionList(draft_id=draft_id, versions=await service.versions(draft_id, principal))


@router.put("/{draft_id}", response_model=DraftOut)
async def revise_draft(
    draft_id: str, data: DraftIn, principal: CurrentPrincipal, service: DraftServiceDep, request: Request
) -> DraftOut:
    """A new version, by the author, while the draft is in `draft` or `changes_requested`."""
    return await service.revise(draft_id, data, principal, _bearer(request))


@router.post("/{draft_id}/submit", response_model=DraftOut)
async def submit_draft(draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep) -> DraftOut:
    """Send the current version into screening and review."""
    return await service.submit(draft_id, principal)


@router.post("/{draft_id}/withdraw", response_model=DraftOut)
async def withdraw_draft(
    draft_id: str, principal: CurrentPrincipal, service: DraftServiceDep, data: WithdrawIn | None = None
) -> DraftOut:
    return await service.withdraw(draft_id, principal, data.reason if data else "")


@internal.get("/{draft_id}/versions/{version}", response_model=VersionContent)
async def version_content(draft_id: str, version: int, service: DraftServiceDep) -> VersionContent:
    """One exact version's content, for screening, review and publishing (services only)."""
    return await service.version_content(draft_id, version)
