"""The moderation inbox (/review/moderation): every screened comment with a finding, newest first,
with the findings' explanations (the review service's screening) and the comment as the publisher
keeps it; PHI and adverse events first. One click hides a PHI comment through its network (or
flags it for deletion where the network cannot hide): the publisher's API is called with the
user's own token, so it applies and audits its own rules (docs/comments.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response

from services.kit.errors import ClearpostError, Forbidden
from services.review.ae_case_endpoints import CaseServiceDep
from services.review.ae_cases import AeCaseService
from services.review.ui.deps import FormPostDep, SignedInDep, UiRoute, UiState, UiStateDep
from services.review.ui.render import MODERATION_ROLES, page, redirect
from services.review.ui.security import UI_PREFIX
from services.review.ui.sessions import SignedIn

router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

MODERATION_URL = f"{UI_PREFIX}/moderation"
HIDE_ROLES = ("publisher", "compliance", "admin")
URGENT = ("phi", "adverse_event")


def _require_moderator(signed: SignedIn) -> None:
    if not signed.principal.has_any(*MODERATION_ROLES):
        raise Forbidden("the moderation inbox is for publishers, compliance, pharmacovigilance and admins")


async def _inbox(
    request: Request,
    signed: SignedIn,
    ui: UiState,
    cases: AeCaseService,
    *,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
) -> Response:
    _require_moderator(signed)
    try:
        comments, load_error = await ui.user_api.comments(signed.token), ""
    except ClearpostError as exc:
        comments, load_error = [], exc.detail
    screenings, by_comment = await cases.for_comments([c["id"] for c in comments])
    items: list[dict[str, Any]] = []
    for comment in comments:
        screening = screenings.get(comment["id"])
        case = by_comment.get(comment["id"])
        items.append(
            {
                **comment,
                "findings": screening.findings if screening else [],
                "case_id": case.id if case else None,
                "case_status": case.status if case else None,
                "urgent": any(c in URGENT for c in comment["categories"]),
            }
        )
    items.sort(key=lambda item: not item["urgent"])  # stable: newest first within each group
    return page(
        request,
        "moderation.html",
        {
            "items": items,
            "load_error": load_error,
            "may_hide": signed.principal.has_any(*HIDE_ROLES),
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/moderation")
async def moderation(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    cases: CaseServiceDep,
    hidden: Annotated[str, Query(max_length=64)] = "",
    flagged: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    notice = ""
    if hidden:
        notice = "Hidden on its network. Send the suggested private reply from the account."
    elif flagged:
        notice = "This network cannot hide comments: flagged for the account owner to delete it."
    return await _inbox(request, signed, ui, cases, notice=notice)


@router.post("/moderation/{comment_id}/hide")
async def hide(
    request: Request,
    comment_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    cases: CaseServiceDep,
    reason: Annotated[str, Form(min_length=3, max_length=500)] = "PHI in a public comment",
) -> Response:
    if not form.principal.has_any(*HIDE_ROLES):
        raise Forbidden("only publishers, compliance and admins hide comments")

    async def show(refusal: ClearpostError) -> Response:
        return await _inbox(
            request,
            form.signed,
            ui,
            cases,
            error=f"Not hidden: {refusal.detail}",
            status_code=refusal.status_code,
        )

    comment = await form.refusable(
        ui.user_api.hide_comment(form.token, comment_id, reason), show, every_error=True
    )
    which = "hidden" if comment.get("moderation") == "hidden" else "flagged"
    return redirect(f"{MODERATION_URL}?{which}=1")
