"""The Crisis page (/review/crisis, docs/crisis-lane.md): every emergency post with the time left in
its co-signers' window and in its after-review; a crisis holder starts one (a draft version, a
reason, the password) and co-signs another's (the content hash shown, the password), or publishes
alone from a pre-approved template (a typed value for each of its variables, a reason, the password).

The rules are the crisis services' (services/review/crisis.py, crisis_templates.py), the same the
API applies; a refusal is shown on the page with what was typed (never the password), and wrong
passwords count against the same limit as signing a decision.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query, Request, Response

from services.kit.errors import ClearpostError, Forbidden, TooManyAttempts
from services.review.crisis import CRISIS_READERS
from services.review.crisis_deps import CrisisServiceDep, TemplateServiceDep
from services.review.crisis_report import report_csv
from services.review.crisis_schemas import CrisisApproveIn, CrisisPostOut, CrisisStartIn
from services.review.crisis_template_schemas import TemplateOut, TemplateUseIn
from services.review.ui.deps import FormPost, FormPostDep, ShowPage, SignedInDep, UiRoute, UiState, UiStateDep
from services.review.ui.render import page, redirect
from services.review.ui.security import UI_PREFIX, client_address
from services.review.ui.sessions import SignedIn
from workflows.crisis_signatures import CRISIS_ROLE
from workflows.crisis_templates import MAX_VALUE_CHARS, VARIABLES

router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

CRISIS_URL = f"{UI_PREFIX}/crisis"
Text = Annotated[str, Form(max_length=2000)]
Password = Annotated[str, Form(max_length=1024)]
Value = Annotated[str, Form(max_length=MAX_VALUE_CHARS)]
T = TypeVar("T")
_VARIABLE = re.compile(r"(\{(?:" + "|".join(VARIABLES) + r")\})")


def _minutes(seconds: int) -> str:
    hours, minutes = divmod((seconds + 59) // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


async def _page(
    request: Request,
    signed: SignedIn,
    service: CrisisServiceDep,
    templates: TemplateServiceDep,
    *,
    failed_form: str = "",
    error: str = "",
    typed: dict[str, str] | None = None,
    notice: str = "",
    used: str = "",
    status_code: int = 200,
) -> Response:
    if not signed.principal.has_any(*CRISIS_READERS):
        raise Forbidden("crisis posts are for crisis holders, reviewers, publishers, auditors and admins")
    posts = await service.list()
    rows = [
        {
            "post": post,
            "window_left": _minutes(post.window_seconds_left) if post.window_seconds_left else "",
            "after_review_left": _minutes(post.after_review_seconds_left)
            if post.after_review_seconds_left
            else "",
            "may_approve": _may_approve(signed, post),
        }
        for post in posts
    ]
    approved = await templates.list(active_only=True)
    return page(
        request,
        "crisis.html",
        {
            "rows": rows,
            "may_start": signed.principal.has_any(CRISIS_ROLE),
            "failed_form": failed_form,
            "error": error,
            "typed": typed or {},
            "notice": notice,
            "templates": [_template_row(t) for t in approved],
            "used": next((u for t in approved for u in t.uses if used and u.id == used), None),
        },
        status_code=status_code,
    )


def _template_row(template: TemplateOut) -> dict[str, Any]:
    """The template and its text cut at its variables, so the page shows each {variable} as such."""
    return {
        "template": template,
        "title_parts": _parts(template.title),
        "body_parts": _parts(template.body),
    }


def _parts(text: str) -> list[tuple[str, bool]]:
    return [(part, bool(_VARIABLE.fullmatch(part))) for part in _VARIABLE.split(text) if part]


def _may_approve(signed: SignedIn, post: CrisisPostOut) -> bool:
    principal = signed.principal
    return (
        principal.has_any(CRISIS_ROLE)
        and post.status == "awaiting_approvals"
        and principal.user_id != post.starter_id
        and all(a.signer_id != principal.user_id for a in post.approvals)
    )


@router.get("/crisis")
async def crisis_page(
    request: Request,
    signed: SignedInDep,
    service: CrisisServiceDep,
    templates: TemplateServiceDep,
    notice: str = "",
    used: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    shown = {
        "started": "The crisis post was started.",
        "approved": "Your approval was signed.",
        "used": "Your post from the template was signed; its status is shown under Templates.",
    }
    return await _page(request, signed, service, templates, notice=shown.get(notice, ""), used=used)


@router.get("/crisis/report.csv")
async def crisis_report_csv(signed: SignedInDep, service: CrisisServiceDep) -> Response:
    """The crisis report (GET /api/v1/crisis/report?format=csv) for the signed-in browser."""
    if not signed.principal.has_any(*CRISIS_READERS):
        raise Forbidden("the crisis report is for crisis holders, reviewers, publishers, auditors and admins")
    return Response(
        report_csv(await service.list()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="crisis-report.csv"'},
    )


async def _signed(
    request: Request,
    form: FormPost,
    ui: UiState,
    call: Callable[[], Awaitable[T]],
    show: Callable[[ClearpostError], Awaitable[Response]],
) -> T:
    principal, address = form.principal, client_address(request)
    wait = ui.limiter.retry_after(principal.username, address)
    if wait is not None:
        minutes = (wait + 59) // 60
        refusal = TooManyAttempts(f"too many wrong passwords; try again in {minutes} min")
        raise ShowPage(await show(refusal))

    async def counted(refusal: ClearpostError) -> Response:
        if refusal.code == "signature_failed":
            ui.limiter.failed(principal.username, address)
        return await show(refusal)

    answer = await form.refusable(call(), counted, every_error=True)
    ui.limiter.succeeded(principal.username)
    return answer


@router.post("/crisis/start")
async def start_crisis(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    service: CrisisServiceDep,
    templates: TemplateServiceDep,
    draft_id: Annotated[str, Form(max_length=36)] = "",
    version: Annotated[str, Form(max_length=9)] = "",
    reason: Text = "",
    password: Password = "",
) -> Response:
    typed = {"draft_id": draft_id, "version": version, "reason": reason}

    async def show(refusal: ClearpostError) -> Response:
        return await _page(
            request,
            form.signed,
            service,
            templates,
            failed_form="start",
            error=f"Nothing was started: {refusal.detail}",
            typed=typed,
            status_code=refusal.status_code,
        )

    if not version.isdigit() or int(version) < 1 or not draft_id.strip() or len(reason.strip()) < 3:
        return await show(
            ClearpostError("a draft id, its version number and a reason are required", status_code=422)
        )
    data = CrisisStartIn(
        draft_id=draft_id.strip(), version=int(version), reason=reason.strip(), password=password or "-"
    )
    await _signed(request, form, ui, lambda: service.start(data, form.principal), show)
    return redirect(f"{CRISIS_URL}?notice=started")


@router.post("/crisis/{crisis_id}/approve")
async def approve_crisis(
    request: Request,
    crisis_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    service: CrisisServiceDep,
    templates: TemplateServiceDep,
    content_hash: Annotated[str, Form(max_length=64)] = "",
    password: Password = "",
) -> Response:
    async def show(refusal: ClearpostError) -> Response:
        return await _page(
            request,
            form.signed,
            service,
            templates,
            failed_form=crisis_id,
            error=f"Nothing was signed: {refusal.detail}",
            status_code=refusal.status_code,
        )

    if len(content_hash) != 64:
        return await show(ClearpostError("the content hash is missing; reload the page", status_code=422))
    data = CrisisApproveIn(content_hash=content_hash, password=password or "-")
    await _signed(request, form, ui, lambda: service.approve(crisis_id, data, form.principal), show)
    return redirect(f"{CRISIS_URL}?notice=approved")


@router.post("/crisis/templates/{template_id}/use")
async def use_crisis_template(
    request: Request,
    template_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    service: CrisisServiceDep,
    templates: TemplateServiceDep,
    time: Value = "",
    date: Value = "",
    place: Value = "",
    phone: Value = "",
    reason: Text = "",
    password: Password = "",
) -> Response:
    """Publish from an approved template through CrisisTemplateService.use, as the API does; the
    values the form does not carry (the template has no such variable) are not sent."""
    typed = {"time": time, "date": date, "place": place, "phone": phone, "reason": reason}

    async def show(refusal: ClearpostError) -> Response:
        return await _page(
            request,
            form.signed,
            service,
            templates,
            failed_form=f"template-{template_id}",
            error=f"Nothing was published: {refusal.detail}",
            typed=typed,
            status_code=refusal.status_code,
        )

    if len(reason.strip()) < 3:
        return await show(ClearpostError("a reason is required", status_code=422))
    values = {name: typed[name] for name in VARIABLES if typed[name].strip()}
    data = TemplateUseIn(values=values, reason=reason.strip(), password=password or "-")
    use = await _signed(request, form, ui, lambda: templates.use(template_id, data, form.principal), show)
    return redirect(f"{CRISIS_URL}?notice=used&used={use.id}")
