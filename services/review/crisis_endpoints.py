"""The crisis lane's API (docs/crisis-lane.md): start an emergency post, co-sign it, read it, the report."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from services.kit.auth import CurrentPrincipal, require_roles
from services.review.crisis import CRISIS_READERS
from services.review.crisis_deps import CrisisServiceDep, TemplateServiceDep
from services.review.crisis_report import report_csv
from services.review.crisis_schemas import CrisisApproveIn, CrisisPostOut, CrisisPosts, CrisisStartIn
from services.review.crisis_template_schemas import TemplateOut, Templates, TemplateUseIn, TemplateUseOut
from workflows.crisis_signatures import CRISIS_ROLE

router = APIRouter(prefix="/api/v1/crisis", tags=["crisis"])


@router.post(
    "/posts", status_code=201, response_model=CrisisPostOut, dependencies=[require_roles(CRISIS_ROLE)]
)
async def start_crisis_post(
    data: CrisisStartIn, principal: CurrentPrincipal, service: CrisisServiceDep
) -> CrisisPostOut:
    """Start an emergency post of a draft's version, with a reason and the starter's password."""
    return await service.start(data, principal)


@router.get("/posts", response_model=CrisisPosts, dependencies=[require_roles(*CRISIS_READERS)])
async def list_crisis_posts(service: CrisisServiceDep) -> CrisisPosts:
    return CrisisPosts(posts=await service.list())


@router.get("/posts/{crisis_id}", response_model=CrisisPostOut, dependencies=[require_roles(*CRISIS_READERS)])
async def get_crisis_post(crisis_id: str, service: CrisisServiceDep) -> CrisisPostOut:
    return await service.get(crisis_id)


@router.post(
    "/posts/{crisis_id}/approvals",
    status_code=201,
    response_model=CrisisPostOut,
    dependencies=[require_roles(CRISIS_ROLE)],
)
async def approve_crisis_post(
    crisis_id: str, data: CrisisApproveIn, principal: CurrentPrincipal, service: CrisisServiceDep
) -> CrisisPostOut:
    """Co-sign an emergency post: the exact content hash and the signer's password."""
    return await service.approve(crisis_id, data, principal)


@router.get(
    "/report",
    response_model=CrisisPosts,
    dependencies=[require_roles(*CRISIS_READERS)],
    responses={
        200: {
            "description": "Every crisis post with its after-review outcome, as JSON or (`format=csv`) CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def crisis_report(
    service: CrisisServiceDep, format: Literal["json", "csv"] = Query(default="json")
) -> CrisisPosts | Response:
    """Every crisis post with its after-review outcome; `format=csv` for a spreadsheet."""
    posts = await service.list()
    if format == "csv":
        return Response(
            report_csv(posts),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="crisis-report.csv"'},
        )
    return CrisisPosts(posts=posts)


# --- pre-approved templates -----------------------------------------------------------------------


@router.get("/templates", response_model=Templates, dependencies=[require_roles(*CRISIS_READERS)])
async def list_crisis_templates(
    service: TemplateServiceDep, active: bool = Query(default=False, description="Only usable ones")
) -> Templates:
    """Every approved template version (newest first) with what it may be filled with and its posts."""
    return Templates(templates=await service.list(active_only=active))


@router.get(
    "/templates/{template_id}", response_model=TemplateOut, dependencies=[require_roles(*CRISIS_READERS)]
)
async def get_crisis_template(template_id: str, service: TemplateServiceDep) -> TemplateOut:
    return await service.get(template_id)


@router.post(
    "/templates/{template_id}/posts",
    status_code=201,
    response_model=TemplateUseOut,
    dependencies=[require_roles(CRISIS_ROLE)],
)
async def post_from_crisis_template(
    template_id: str, data: TemplateUseIn, principal: CurrentPrincipal, service: TemplateServiceDep
) -> TemplateUseOut:
    """Publish from an approved template now: typed values for its variables ({time} HH:MM,
    {date} YYYY-MM-DD, {place} and {phone} from its approved lists), a reason and the password."""
    return await service.use(template_id, data, principal)
