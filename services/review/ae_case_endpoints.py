"""The adverse-event case API: list and read cases, follow up, hand off, close, and the exports
(per case JSON and CIOMS-like PDF, the list as CSV or JSON). Steps are recorded (and audited) in
the request's transaction, then the case's workflow is told, so its clocks stop."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.kit.auth import require_roles
from services.kit.deps import SessionDep
from services.kit.errors import ClearpostError
from services.kit.tokens import Principal
from services.review.ae_case_export import case_document, case_pdf, cases_csv, cases_json
from services.review.ae_case_models import AeCase
from services.review.ae_case_schemas import CaseEventOut, CaseList, CaseOut, CloseIn, FollowUpIn, HandOffIn
from services.review.ae_cases import CASE_READERS, CASE_WORKERS, AeCaseService
from workflows.comment_client import CommentWorkflowClient

router = APIRouter(prefix="/api/v1/ae-cases", tags=["adverse-event cases"])
READERS = require_roles(*CASE_READERS)
WORKERS = require_roles(*CASE_WORKERS)


def get_case_service(request: Request, session: SessionDep) -> AeCaseService:
    state = request.app.state
    return AeCaseService(session, audit=state.audit, policy=state.policy.policy.pharmacovigilance)


CaseServiceDep = Annotated[AeCaseService, Depends(get_case_service)]


async def _out(service: AeCaseService, case: AeCase, *, steps: bool = False) -> CaseOut:
    events = await service.events(case.id) if steps else []
    return CaseOut(
        id=case.id,
        comment_id=case.comment_id,
        status=case.status,
        assigned_role=case.assigned_role,
        network=case.network,
        account=case.account,
        draft_id=case.draft_id,
        comment_url=case.comment_url,
        reporter=case.reporter,
        day0=case.day0,
        handoff_due=case.handoff_due,
        regulatory_due=case.regulatory_due,
        hours_left=service.time_left(case),
        elements=dict(case.elements),
        missing=list(case.missing),
        products=list(case.products),
        events=list(case.events),
        handed_off_at=case.handed_off_at,
        handoff_reference=case.handoff_reference,
        closed_at=case.closed_at,
        close_reason=case.close_reason,
        steps=[CaseEventOut(at=e.at, kind=e.kind, actor=e.actor, details=e.details) for e in events],
    )


async def tell_workflow(request: Request, session: SessionDep, case: AeCase, step: str, actor: str) -> None:
    """Commit the step, then stop the workflow's clock. The database is the truth: a workflow that
    is not told still records nothing for a met clock (AeCaseService.clock_passed). The case pages
    (ui/case_pages.py) end their steps here too."""
    await session.commit()
    workflows: CommentWorkflowClient = request.app.state.comment_workflows
    try:
        if step == "handed_off":
            await workflows.case_handed_off(case.comment_id, actor)
        else:
            await workflows.case_closed(case.comment_id, actor)
    except ClearpostError:
        return


@router.get("", response_model=CaseList)
async def list_cases(
    service: CaseServiceDep,
    _principal: Annotated[Principal, READERS],
    status: Literal["open", "handed_off", "closed"] | None = None,
) -> CaseList:
    return CaseList(cases=[await _out(service, case) for case in await service.listing(status=status)])


@router.get(
    "/export",
    response_model=None,
    responses={
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "Every case, CSV (the default) or JSON with `?format=json`",
        }
    },
)
async def export_cases(
    service: CaseServiceDep,
    _principal: Annotated[Principal, READERS],
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    status: Literal["open", "handed_off", "closed"] | None = None,
) -> Response:
    """Every case (or those in one status) for the safety database, one row each."""
    cases = await service.listing(status=status)
    if format == "json":
        return JSONResponse({"cases": cases_json(cases)})
    return Response(
        cases_csv(cases),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ae-cases.csv"'},
    )


@router.get("/{case_id}", response_model=CaseOut)
async def get_case(
    case_id: str, service: CaseServiceDep, _principal: Annotated[Principal, READERS]
) -> CaseOut:
    return await _out(service, await service.get(case_id), steps=True)


@router.get("/{case_id}/export.json", response_model=None)
async def export_case_json(
    case_id: str, service: CaseServiceDep, _principal: Annotated[Principal, READERS]
) -> JSONResponse:
    case = await service.get(case_id)
    document = case_document(case, await service.events(case.id), await service.screening(case))
    return JSONResponse(
        document, headers={"Content-Disposition": f'attachment; filename="ae-case-{case.id}.json"'}
    )


@router.get(
    "/{case_id}/export.pdf",
    response_model=None,
    responses={200: {"content": {"application/pdf": {}}, "description": "The CIOMS-like report"}},
)
async def export_case_pdf(
    case_id: str, service: CaseServiceDep, _principal: Annotated[Principal, READERS]
) -> Response:
    case = await service.get(case_id)
    return Response(
        case_pdf(case, await service.events(case.id)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="ae-case-{case.id}.pdf"'},
    )


@router.post("/{case_id}/follow-ups", response_model=CaseOut)
async def follow_up(
    case_id: str, data: FollowUpIn, service: CaseServiceDep, principal: Annotated[Principal, WORKERS]
) -> CaseOut:
    """A follow-up attempt with an approved private-reply template, logged on the case."""
    await service.follow_up(case_id, principal, data.template, data.note)
    return await _out(service, await service.get(case_id), steps=True)


@router.post("/{case_id}/hand-off", response_model=CaseOut)
async def hand_off(
    case_id: str,
    data: HandOffIn,
    request: Request,
    session: SessionDep,
    service: CaseServiceDep,
    principal: Annotated[Principal, WORKERS],
) -> CaseOut:
    case = await service.hand_off(case_id, principal, data.reference)
    out = await _out(service, case, steps=True)
    await tell_workflow(request, session, case, "handed_off", principal.user_id)
    return out


@router.post("/{case_id}/close", response_model=CaseOut)
async def close(
    case_id: str,
    data: CloseIn,
    request: Request,
    session: SessionDep,
    service: CaseServiceDep,
    principal: Annotated[Principal, WORKERS],
) -> CaseOut:
    case = await service.close(case_id, principal, data.reason)
    out = await _out(service, case, steps=True)
    await tell_workflow(request, session, case, "closed", principal.user_id)
    return out
