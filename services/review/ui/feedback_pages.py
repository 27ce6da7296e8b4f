"""Reviewers teach the screener from the review UI: "Not right" on a finding and "Mark a missed
passage" on the draft page, and the allow-list page where compliance approves or rejects the
"this is ours" proposals. Each form goes through services/review/feedback.py, which checks, stores and
audits; a refusal is shown on the page with what was typed kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from pydantic import ValidationError

from services.kit.errors import ClearpostError, Unprocessable
from services.review.deps import FeedbackServiceDep
from services.review.feedback import ScreeningFeedbackService
from services.review.schemas import MarkMissedIn, MarkWrongIn, ProposalDecisionIn
from services.review.ui.deps import FormPostDep, SignedInDep, UiRoute
from services.review.ui.draft_view import DraftPageDep, draft_url
from services.review.ui.render import page, redirect
from services.review.ui.security import UI_PREFIX
from services.review.ui.sessions import SignedIn

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

ALLOW_LIST_URL = f"{UI_PREFIX}/allow-list"
Short = Annotated[str, Form(max_length=1000)]


def _invalid(exc: ValidationError) -> Unprocessable:
    """A form's fields, refused with the reason a person can act on (pydantic's message per field)."""
    reasons = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'form'}: {str(err['msg']).removeprefix('Value error, ')}"
        for err in exc.errors()
    )
    return Unprocessable(f"the form was not filled in correctly ({reasons})")


@router.post("/drafts/{draft_id}/findings/{index}/not-right")
async def mark_not_right(
    draft_id: str,
    index: int,
    form: FormPostDep,
    pages: DraftPageDep,
    feedback: FeedbackServiceDep,
    content_hash: Annotated[str, Form(max_length=64)] = "",
    reason: Short = "",
    ours: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """A reviewer says finding `index` of the current screening is wrong (PHI: maybe "this is ours")."""
    typed = {"form": "wrong", "index": index, "reason": reason, "ours": ours}

    async def show(refusal: ClearpostError) -> Response:
        return await pages.render(
            form.signed,
            draft_id,
            status_code=refusal.status_code,
            feedback_error=refusal.detail,
            feedback=typed,
        )

    try:
        data = MarkWrongIn(
            mark="wrong",
            content_hash=content_hash,
            finding_index=index,
            reason=reason,
            ours=ours or None,  # pydantic checks the value
        )
    except ValidationError as exc:
        return await show(_invalid(exc))
    await form.refusable(feedback.mark(draft_id, data, form.principal), show)
    return redirect(f"{draft_url(draft_id)}?marked=wrong#findings")


@router.post("/drafts/{draft_id}/missed")
async def mark_missed(
    draft_id: str,
    form: FormPostDep,
    pages: DraftPageDep,
    feedback: FeedbackServiceDep,
    content_hash: Annotated[str, Form(max_length=64)] = "",
    passage: Annotated[str, Form(max_length=2000)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    reason: Short = "",
) -> Response:
    """A reviewer names a passage of the current version the screener should have flagged."""
    typed = {"form": "missed", "passage": passage, "category": category, "reason": reason}

    async def show(refusal: ClearpostError) -> Response:
        return await pages.render(
            form.signed,
            draft_id,
            status_code=refusal.status_code,
            feedback_error=refusal.detail,
            feedback=typed,
        )

    try:
        data = MarkMissedIn(
            mark="missed",
            content_hash=content_hash,
            passage=passage,
            category=category,  # pydantic checks the value
            reason=reason,
        )
    except ValidationError as exc:
        return await show(_invalid(exc))
    await form.refusable(feedback.mark(draft_id, data, form.principal), show)
    return redirect(f"{draft_url(draft_id)}?marked=missed#findings")


# --- the allow-list proposals (compliance) ----------------------------------------------------------


async def _allow_list_page(
    request: Request,
    signed: SignedIn,
    feedback: ScreeningFeedbackService,
    *,
    status_code: int = 200,
    error: str = "",
    typed: dict[str, Any] | None = None,
    notice: str = "",
) -> Response:
    pending = await feedback.proposals(signed.principal)
    decided = [p for p in await feedback.proposals(signed.principal, None) if p.status != "pending"]
    return page(
        request,
        "allow_list.html",
        {
            "pending": pending,
            "decided": list(reversed(decided))[:50],
            "may_decide": signed.principal.has_any("compliance"),
            "error": error,
            "typed": typed or {},
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/allow-list")
async def allow_list(
    request: Request, signed: SignedInDep, feedback: FeedbackServiceDep, done: str = ""
) -> Response:
    """Pending "this is ours" proposals with approve/reject forms, and the latest decided ones."""
    notice = {"approved": "Approved: later screenings allow it.", "rejected": "Rejected."}.get(done, "")
    return await _allow_list_page(request, signed, feedback, notice=notice)


async def _decide(
    request: Request,
    proposal_id: str,
    approve: bool,
    form: FormPostDep,
    feedback: ScreeningFeedbackService,
    reason: str,
) -> Response:
    typed = {"proposal_id": proposal_id, "reason": reason}

    async def show(refusal: ClearpostError) -> Response:
        return await _allow_list_page(
            request, form.signed, feedback, status_code=refusal.status_code, error=refusal.detail, typed=typed
        )

    try:
        data = ProposalDecisionIn(reason=reason)
    except ValidationError:
        return await show(Unprocessable("nothing was decided: a reason is required"))
    await form.refusable(feedback.decide_proposal(proposal_id, approve, data, form.principal), show)
    return redirect(f"{ALLOW_LIST_URL}?done={'approved' if approve else 'rejected'}")


@router.post("/allow-list/{proposal_id}/approve")
async def approve_proposal(
    request: Request, proposal_id: str, form: FormPostDep, feedback: FeedbackServiceDep, reason: Short = ""
) -> Response:
    return await _decide(request, proposal_id, True, form, feedback, reason)


@router.post("/allow-list/{proposal_id}/reject")
async def reject_proposal(
    request: Request, proposal_id: str, form: FormPostDep, feedback: FeedbackServiceDep, reason: Short = ""
) -> Response:
    return await _decide(request, proposal_id, False, form, feedback, reason)
