"""The adverse-event case pages (/review/ae-cases, docs/review-ui.md): every case, open ones first by
the time left on their regulatory clock, and one case with the comment as the case holds it, its
minimum elements, both clocks, every step, and the forms to follow up, hand off and close.

Readers and workers are the API's (services/review/ae_cases.py: CASE_READERS, CASE_WORKERS), and
each step calls the same service method as `/api/v1/ae-cases` and then tells the case's workflow
the same way (ae_case_endpoints.tell_workflow), so the case step and its audit event are the API's.
A refusal is shown on the case page with what was typed, with the refusal's status code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from services.kit.clock import utcnow
from services.kit.deps import SessionDep
from services.kit.errors import ClearpostError, Forbidden, Unprocessable
from services.kit.tokens import Principal
from services.review.ae_case_endpoints import CaseServiceDep, tell_workflow
from services.review.ae_case_export import case_document, case_pdf, cases_csv
from services.review.ae_case_models import CASE_CLOSED, CASE_HANDED_OFF, CASE_OPEN, AeCase
from services.review.ae_cases import CASE_READERS, CASE_WORKERS, FOLLOW_UP_TEMPLATES, AeCaseService
from services.review.ae_elements import ELEMENTS
from services.review.ui.deps import FormPost, FormPostDep, SignedInDep, UiRoute
from services.review.ui.presenters import time_left
from services.review.ui.render import page, redirect
from services.review.ui.security import UI_PREFIX

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

CASES_URL = f"{UI_PREFIX}/ae-cases"
STATUS_ORDER = {CASE_OPEN: 0, CASE_HANDED_OFF: 1, CASE_CLOSED: 2}
ELEMENT_LABELS = {
    "reporter": "Identifiable reporter",
    "patient": "Identifiable patient",
    "product": "Suspect product",
    "event": "Adverse event",
}
DONE = {
    "follow_up": "The follow-up was logged on the case. Send the reply from the account.",
    "handed_off": "The case was handed off to the safety database; its hand-off clock is stopped.",
    "closed": "The case was closed; both clocks are stopped.",
}
T = TypeVar("T")
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=2000)]


def _require_reader(principal: Principal) -> None:
    if not principal.has_any(*CASE_READERS):
        raise Forbidden("adverse-event cases are for pharmacovigilance, compliance, auditors and admins")


def _clock(due: datetime, hours: float | None, now: datetime) -> dict[str, Any]:
    """A clock as the pages show it: due, met (None hours) or how long is left or overdue."""
    return {
        "due": due,
        "met": hours is None,
        "overdue": hours is not None and hours < 0,
        "left": "" if hours is None else time_left(due, now),
    }


def _row(service: AeCaseService, case: AeCase, now: datetime) -> dict[str, Any]:
    hours = service.time_left(case)
    return {
        "case": case,
        "handoff": _clock(case.handoff_due, hours["handoff"], now),
        "regulatory": _clock(case.regulatory_due, hours["regulatory"], now),
    }


@router.get("/ae-cases")
async def case_list(signed: SignedInDep, request: Request, service: CaseServiceDep) -> Response:
    _require_reader(signed.principal)
    now = utcnow()
    cases = sorted(
        await service.listing(status=None), key=lambda c: (STATUS_ORDER.get(c.status, 3), c.regulatory_due)
    )
    return page(request, "ae_cases.html", {"rows": [_row(service, case, now) for case in cases]})


@router.get("/ae-cases/export.csv")
async def cases_export_csv(signed: SignedInDep, service: CaseServiceDep) -> Response:
    """Every case for the safety database (GET /api/v1/ae-cases/export) for the signed-in browser."""
    _require_reader(signed.principal)
    return Response(
        cases_csv(await service.listing(status=None)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ae-cases.csv"'},
    )


async def _case_page(
    request: Request,
    principal: Principal,
    service: AeCaseService,
    case_id: str,
    *,
    failed_form: str = "",
    error: str = "",
    typed: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    _require_reader(principal)
    case = await service.get(case_id)
    screening = await service.screening(case)
    steps = await service.events(case.id)
    return page(
        request,
        "ae_case.html",
        {
            **_row(service, case, utcnow()),
            "findings": list(screening.findings) if screening else [],
            "elements": [(name, ELEMENT_LABELS[name], case.elements.get(name)) for name in ELEMENTS],
            "steps": steps,
            "may_work": principal.has_any(*CASE_WORKERS),
            "templates": dict(FOLLOW_UP_TEMPLATES),
            "follow_ups": sum(1 for s in steps if s.kind == "follow_up"),
            "failed_form": failed_form,
            "error": error,
            "typed": typed or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/ae-cases/{case_id}")
async def case_detail(
    case_id: str, signed: SignedInDep, request: Request, service: CaseServiceDep, done: str = ""
) -> Response:
    return await _case_page(request, signed.principal, service, case_id, notice=DONE.get(done, ""))


@router.get("/ae-cases/{case_id}/export.json")
async def case_export_json(case_id: str, signed: SignedInDep, service: CaseServiceDep) -> Response:
    """GET /api/v1/ae-cases/{id}/export.json for the signed-in browser."""
    _require_reader(signed.principal)
    case = await service.get(case_id)
    document = case_document(case, await service.events(case.id), await service.screening(case))
    return JSONResponse(
        document, headers={"Content-Disposition": f'attachment; filename="ae-case-{case.id}.json"'}
    )


@router.get("/ae-cases/{case_id}/export.pdf")
async def case_export_pdf(case_id: str, signed: SignedInDep, service: CaseServiceDep) -> Response:
    """GET /api/v1/ae-cases/{id}/export.pdf (the CIOMS-like report) for the signed-in browser."""
    _require_reader(signed.principal)
    case = await service.get(case_id)
    return Response(
        case_pdf(case, await service.events(case.id)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="ae-case-{case.id}.pdf"'},
    )


async def _step(
    request: Request,
    form: FormPost,
    service: AeCaseService,
    case_id: str,
    which: str,
    typed: dict[str, str],
    call: Callable[[], Awaitable[T]],
) -> T:
    """A worker's step through the service, or the case page again with the refusal and what was typed."""
    _require_reader(form.principal)
    if not form.principal.has_any(*CASE_WORKERS):
        raise Forbidden("only pharmacovigilance and admins work adverse-event cases")

    async def show(refusal: ClearpostError) -> Response:
        return await _case_page(
            request,
            form.principal,
            service,
            case_id,
            failed_form=which,
            error=f"Not done: {refusal.detail}",
            typed=typed,
            status_code=refusal.status_code,
        )

    return await form.refusable(call(), show)


@router.post("/ae-cases/{case_id}/follow-up")
async def case_follow_up(
    case_id: str,
    request: Request,
    form: FormPostDep,
    service: CaseServiceDep,
    template: Annotated[str, Form(max_length=64)] = "",
    note: Long = "",
) -> Response:
    typed = {"template": template, "note": note}
    await _step(
        request, form, service, case_id, "follow_up", typed,
        lambda: service.follow_up(case_id, form.principal, template, note.strip()),
    )  # fmt: skip
    return redirect(f"{CASES_URL}/{case_id}?done=follow_up")


@router.post("/ae-cases/{case_id}/hand-off")
async def case_hand_off(
    case_id: str,
    request: Request,
    session: SessionDep,
    form: FormPostDep,
    service: CaseServiceDep,
    reference: Short = "",
) -> Response:
    async def hand_off() -> AeCase:
        if not reference.strip():
            raise Unprocessable("the safety database's reference is required", code="reference_required")
        return await service.hand_off(case_id, form.principal, reference.strip())

    case = await _step(request, form, service, case_id, "hand_off", {"reference": reference}, hand_off)
    await tell_workflow(request, session, case, "handed_off", form.principal.user_id)
    return redirect(f"{CASES_URL}/{case_id}?done=handed_off")


@router.post("/ae-cases/{case_id}/close")
async def case_close(
    case_id: str,
    request: Request,
    session: SessionDep,
    form: FormPostDep,
    service: CaseServiceDep,
    reason: Long = "",
) -> Response:
    case = await _step(
        request, form, service, case_id, "close", {"reason": reason},
        lambda: service.close(case_id, form.principal, reason.strip()),
    )  # fmt: skip
    await tell_workflow(request, session, case, "closed", form.principal.user_id)
    return redirect(f"{CASES_URL}/{case_id}?done=closed")
