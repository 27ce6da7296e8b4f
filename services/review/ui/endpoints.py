"""The review UI's pages: sign-in, the queue, a draft, deciding, commenting and an author's drafts.

The images of a draft (media_pages.py), consent records (consent_pages.py), channel accounts
(channel_pages.py), takedown and pause (operations_pages.py), the calendar (calendar_pages.py) and
reviewers' marks on screenings with the allow-list page (feedback_pages.py), the notifications
inbox (notification_pages.py) and the adverse-event cases (case_pages.py) have their own modules,
included in this router.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import ValidationError
from starlette.staticfiles import StaticFiles

from services.kit.clock import utcnow
from services.kit.errors import ClearpostError, Conflict, Forbidden, Unprocessable
from services.kit.tokens import Principal
from services.review.deps import ReviewServiceDep
from services.review.policy import REVIEW_ROLES
from services.review.schemas import DecisionIn
from services.review.service import ReviewService
from services.review.ui import (
    calendar_pages,
    case_pages,
    channel_pages,
    consent_pages,
    crisis_pages,
    feedback_pages,
    flow_pages,
    media_pages,
    moderation_pages,
    notification_pages,
    oidc_pages,
    operations_pages,
)
from services.review.ui.deps import (
    ClaimServiceDep,
    CommentServiceDep,
    FormPostDep,
    SameSite,
    SignedInDep,
    UiRoute,
    UiSessionsDep,
    UiState,
    UiStateDep,
    channel_choices,
    split_list,
)
from services.review.ui.draft_view import DraftPageDep, draft_url, policy_of
from services.review.ui.presenters import DECISION_LABELS, SIGNATURE_MEANINGS, age, time_left
from services.review.ui.render import STATIC_DIR, page, redirect, safe_next
from services.review.ui.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    UI_PREFIX,
    client_address,
    is_https,
    new_secret,
    tokens_match,
)
from services.review.ui.sessions import SessionEnded, SignedIn
from services.review.ui.upstream import SignInRefused
from workflows.contracts import DECISIONS

router = APIRouter(prefix=UI_PREFIX, tags=["review-ui"], include_in_schema=False, route_class=UiRoute)
static_files = StaticFiles(directory=STATIC_DIR)

VERBS = {"approve": "approve", "reject": "reject", "request_changes": "request changes"}
FormStr = Annotated[str, Form(max_length=20_000)]


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": is_https(request), "path": UI_PREFIX}


# --- signing in and out ----------------------------------------------------------------------------


def _login_page(
    request: Request, *, next_url: str, error: str = "", notice: str = "", status_code: int = 200
) -> Response:
    token = new_secret()
    response = page(
        request,
        "login.html",
        {
            "next_url": next_url,
            "error": error,
            "notice": notice,
            "login_csrf": token,
            "sso": oidc_pages.sso_enabled(request),
        },
        status_code=status_code,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_flags(request))
    return response


@router.get("/login")
async def login_form(
    request: Request,
    sessions: UiSessionsDep,
    next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/review/",
    ended: bool = False,
) -> Response:
    try:
        await sessions.current(request.cookies.get(SESSION_COOKIE), utcnow())
        return redirect(safe_next(next_url))
    except SessionEnded:
        pass
    notice = "Your session has ended. Please sign in again." if ended else ""
    return _login_page(request, next_url=safe_next(next_url), notice=notice)


@router.post("/login", dependencies=[SameSite])
async def login(
    request: Request,
    sessions: UiSessionsDep,
    ui: UiStateDep,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/review/",
) -> Response:
    target = safe_next(next_url)
    if not tokens_match(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return _login_page(
            request, next_url=target, error="The sign-in form expired; please try again.", status_code=403
        )
    address = client_address(request)
    wait = ui.limiter.retry_after(username, address)
    if wait is not None:
        minutes = (wait + 59) // 60
        return _login_page(
            request,
            next_url=target,
            error=f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            status_code=429,
        )
    try:
        secret, signed = await sessions.start(username, password, utcnow())
    except SignInRefused:
        ui.limiter.failed(username, address)
        return _login_page(request, next_url=target, error="Invalid username or password.", status_code=401)
    ui.limiter.succeeded(username)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        try:
            await sessions.end(await sessions.current(old, utcnow()))
        except SessionEnded:
            pass
    response = redirect(target)
    response.set_cookie(SESSION_COOKIE, secret, **_cookie_flags(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=UI_PREFIX)
    request.state.signed_in = signed
    return response


@router.post("/logout")
async def logout(request: Request, form: FormPostDep, sessions: UiSessionsDep, ui: UiStateDep) -> Response:
    # An SSO user is signed out at the identity provider too (RP-initiated logout).
    end_session = await oidc_pages.end_session_url(request, ui, form.signed)
    await sessions.end(form.signed)
    response = redirect(end_session or f"{UI_PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX, httponly=True, samesite="strict")
    return response


# --- home, queue, claims -------------------------------------------------------------------------


@router.get("")
@router.get("/")
async def home(signed: SignedInDep) -> Response:
    if signed.principal.has_any(*REVIEW_ROLES):
        return redirect(f"{UI_PREFIX}/queue")
    return redirect(f"{UI_PREFIX}/my")


@router.get("/queue")
async def queue(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
    stage: Annotated[str, Query(max_length=64)] = "",
    channel: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    principal = signed.principal
    if not principal.has_any(*REVIEW_ROLES):
        raise Forbidden("the review queue is for legal, compliance and medical reviewers")
    items = await review.queue(principal, stage=stage or None)
    drafts = {d["id"]: d for d in await ui.user_api.drafts(signed.token)}
    current = utcnow()
    held = await claims.active_claims([i.draft_id for i in items], current)
    rows = []
    for item in items:
        draft = drafts.get(item.draft_id, {})
        channels: list[str] = draft.get("channels", [])
        if channel and channel not in channels:
            continue
        rows.append(
            {
                "item": item,
                "title": draft.get("title", item.draft_id),
                "author": draft.get("author_name", item.author_id),
                "channels": channels,
                "age": age(item.opened_at, current),
                "time_left": time_left(item.due_at, current),
                "claim": held.get((item.draft_id, item.stage)),
            }
        )
    all_channels = sorted({c for d in drafts.values() for c in d.get("channels", [])})
    return page(
        request,
        "queue.html",
        {
            "rows": rows,
            "stages": list(policy_of(request).policy.stages),
            "channels": all_channels,
            "stage": stage,
            "channel": channel,
            "me": principal.user_id,
        },
    )


@router.post("/claims")
async def claim(
    form: FormPostDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
    draft_id: Annotated[str, Form(max_length=64)],
    stage: Annotated[str, Form(max_length=64)],
) -> Response:
    await review.require_in_queue(form.principal, draft_id, stage)
    await claims.claim(draft_id, stage, form.principal, utcnow())
    return redirect(draft_url(draft_id))


@router.post("/claims/release")
async def release(
    form: FormPostDep,
    claims: ClaimServiceDep,
    draft_id: Annotated[str, Form(max_length=64)],
    stage: Annotated[str, Form(max_length=64)],
) -> Response:
    await claims.release(draft_id, stage, form.principal, utcnow())
    return redirect(f"{UI_PREFIX}/queue")


# --- a draft ---------------------------------------------------------------------------------------


# --- a new draft (before /drafts/{draft_id}, which would take "new" for an id) ----------------------


async def _new_draft_page(
    request: Request,
    signed: SignedIn,
    ui: UiState,
    *,
    typed: dict[str, Any] | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    choices = await channel_choices(ui, signed.token, typed["channels"] if typed else [])
    values = typed or {
        "title": "",
        "body": "",
        "channels": choices["channels"][:1],
        "patient_content": False,
        "consent_ids": "",
        "scheduled_at": "",
        "purpose": "post",
    }
    return page(
        request, "draft_new.html", {"values": values, "error": error, **choices}, status_code=status_code
    )


@router.get("/drafts/new")
async def new_draft(request: Request, signed: SignedInDep, ui: UiStateDep) -> Response:
    if "author" not in signed.principal.roles:
        raise Forbidden("only authors write drafts")
    return await _new_draft_page(request, signed, ui)


@router.post("/drafts")
async def create_draft(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    title: Annotated[str, Form(max_length=300)] = "",
    body: FormStr = "",
    channels: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    patient_content: Annotated[str, Form(max_length=10)] = "",
    consent_ids: Annotated[str, Form(max_length=700)] = "",
    scheduled_at: Annotated[str, Form(max_length=16)] = "",
    purpose: Annotated[Literal["post", "crisis_template"], Form()] = "post",
) -> Response:
    """Version 1 of a new draft, through the drafts API as the author; then its page, where images
    are attached and the draft is submitted. A crisis template (`purpose`) is text with {time},
    {date}, {place} and {phone} that passes its review once and is never published itself."""
    typed: dict[str, Any] = {
        "title": title,
        "body": body,
        "channels": list(dict.fromkeys(c for value in channels for c in split_list(value))),
        "patient_content": bool(patient_content),
        "consent_ids": consent_ids,
        "scheduled_at": scheduled_at,
        "purpose": purpose,
    }

    async def show(refusal: ClearpostError) -> Response:
        return await _new_draft_page(
            request, form.signed, ui, typed=typed, error=refusal.detail, status_code=refusal.status_code
        )

    content: dict[str, Any] = {**typed, "consent_ids": split_list(consent_ids)}
    if scheduled_at:
        # <input type="datetime-local"> sends local wall time without an offset: the form says UTC.
        try:
            content["scheduled_at"] = datetime.fromisoformat(scheduled_at).replace(tzinfo=UTC).isoformat()
        except ValueError:
            return await show(Unprocessable("the publication time must be a date and time (UTC)"))
    else:
        content["scheduled_at"] = None
    created = await form.refusable(ui.user_api.create_draft(form.token, content), show)
    return redirect(draft_url(created["id"]))


@router.get("/drafts/{draft_id}")
async def draft_page(
    draft_id: str,
    signed: SignedInDep,
    pages: DraftPageDep,
    takedown: Annotated[Literal["started", ""], Query()] = "",
    marked: Annotated[Literal["wrong", "missed", ""], Query()] = "",
) -> Response:
    return await pages.render(signed, draft_id, takedown_started=takedown == "started", mark_recorded=marked)


@router.post("/drafts/{draft_id}/comments")
async def add_comment(
    draft_id: str, form: FormPostDep, ui: UiStateDep, comments: CommentServiceDep, body: FormStr
) -> Response:
    draft = await ui.user_api.draft(form.token, draft_id)  # only those who may see it comment on it
    await comments.add(draft_id, draft["version"], body, form.principal, utcnow())
    return redirect(f"{draft_url(draft_id)}#comments")


@router.post("/drafts/{draft_id}/versions")
async def submit_new_version(
    draft_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    pages: DraftPageDep,
    title: Annotated[str, Form(max_length=300)],
    body: FormStr,
    channels: Annotated[list[str], Form()],
    patient_content: Annotated[str, Form(max_length=10)] = "",
    consent_ids: Annotated[str, Form(max_length=700)] = "",
    action: Annotated[Literal["submit", "save"], Form()] = "submit",
) -> Response:
    """The author's new version, through the drafts API with the author's own token: PUT, then submit
    (or only the PUT, to save the text and the consents the draft relies on without submitting)."""
    draft = await ui.user_api.draft(form.token, draft_id)
    content = {
        "title": title,
        "body": body,
        "channels": channels,
        "patient_content": bool(patient_content),
        "consent_ids": split_list(consent_ids),
        "scheduled_at": draft.get("scheduled_at"),
    }

    async def show(refusal: ClearpostError) -> Response:
        typed = {**content, "consent_ids": consent_ids}
        return await pages.render(
            form.signed,
            draft_id,
            status_code=refusal.status_code,
            revise_error=refusal.detail,
            revision=typed,
        )

    await form.refusable(ui.user_api.revise(form.token, draft_id, content), show)
    if action == "submit":
        await ui.user_api.submit(form.token, draft_id)
    return redirect(draft_url(draft_id))


@router.get("/my")
async def my_drafts(request: Request, signed: SignedInDep, ui: UiStateDep) -> Response:
    mine = [d for d in await ui.user_api.drafts(signed.token) if d["author_id"] == signed.principal.user_id]
    return page(request, "my.html", {"drafts": mine})


# --- deciding --------------------------------------------------------------------------------------


async def _decision_context(
    review: ReviewService, draft: dict[str, Any], stage: str, principal: Principal
) -> dict[str, Any]:
    """The open task this user may decide (or the refusal that explains why not), for the form."""
    task = await review.decidable_task(draft["id"], draft["version"], draft["author_id"], stage, principal)
    return {"draft": draft, "stage": stage, "task": task}


def _decision_form(
    request: Request, context: dict[str, Any], *, error: str = "", reason: str = "", status_code: int = 200
) -> Response:
    draft = context["draft"]
    return page(
        request,
        "decide.html",
        {
            **context,
            "content_hash": context.get("content_hash", draft["content_hash"]),
            "error": error,
            "reason": reason,
            "meanings": SIGNATURE_MEANINGS,
            "labels": DECISION_LABELS,
        },
        status_code=status_code,
    )


@router.get("/drafts/{draft_id}/stages/{stage}/decide")
async def decision_form(
    request: Request,
    draft_id: str,
    stage: str,
    signed: SignedInDep,
    ui: UiStateDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
) -> Response:
    draft = await ui.user_api.draft(signed.token, draft_id)
    context = await _decision_context(review, draft, stage, signed.principal)
    holder = await claims.held_by_other(draft_id, stage, signed.principal, utcnow())
    if holder is not None:
        raise Conflict(f"{holder.holder_name} has claimed the {stage} stage of this draft")
    return _decision_form(request, context)


@router.post("/drafts/{draft_id}/stages/{stage}/decide")
async def decide(
    request: Request,
    draft_id: str,
    stage: str,
    form: FormPostDep,
    ui: UiStateDep,
    claims: ClaimServiceDep,
    review: ReviewServiceDep,
    decision: Annotated[str, Form(max_length=32)],
    content_hash: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    principal = form.principal
    draft = await ui.user_api.draft(form.token, draft_id)
    context = {
        **await _decision_context(review, draft, stage, principal),
        "content_hash": content_hash,
    }
    holder = await claims.held_by_other(draft_id, stage, principal, utcnow())
    if holder is not None:
        raise Conflict(f"{holder.holder_name} has claimed the {stage} stage of this draft")
    if decision not in DECISIONS:
        raise Unprocessable(f"unknown decision {decision!r}")
    if decision != "approve" and not reason.strip():
        return _decision_form(
            request,
            context,
            error=f"A reason is required to {VERBS[decision]}: tell the author what to change or why.",
            reason=reason,
            status_code=422,
        )
    if principal.sso and oidc_pages.sso_enabled(request):
        # 21 CFR 11.200: the identity provider authenticates the signer again for this decision.
        return await oidc_pages.start_signing(
            request,
            ui,
            form.signed,
            draft_id=draft_id,
            version=int(draft["version"]),
            stage=stage,
            decision=decision,
            content_hash=content_hash,
            reason=reason.strip(),
        )
    if not password:
        return _decision_form(
            request, context, error="Enter your password to sign.", reason=reason, status_code=422
        )
    address = client_address(request)
    wait = ui.limiter.retry_after(principal.username, address)
    if wait is not None:
        return _decision_form(
            request,
            context,
            error=f"Too many wrong passwords. Signing is blocked for {(wait + 59) // 60} minutes.",
            reason=reason,
            status_code=429,
        )
    try:
        data = DecisionIn(
            stage=stage,
            decision=decision,
            reason=reason.strip(),
            content_hash=content_hash,
            password=password,
        )
    except ValidationError as exc:
        raise Unprocessable("the decision form was not filled in correctly") from exc

    async def show(refusal: ClearpostError) -> Response | None:
        if refusal.code == "signature_failed":
            ui.limiter.failed(principal.username, address)
            return _decision_form(
                request,
                context,
                error="The password did not match. Nothing was signed.",
                reason=reason,
                status_code=403,
            )
        if refusal.status_code == 409:
            current = await ui.user_api.draft(form.token, draft_id)
            return page(
                request,
                "refused.html",
                {"draft": current, "stage": stage, "seen_hash": content_hash, "detail": refusal.detail},
                status_code=409,
            )
        return None

    signed_decision = await form.refusable(review.decide(draft_id, data, principal), show)
    ui.limiter.succeeded(principal.username)
    await claims.release(draft_id, stage, principal, utcnow())
    return page(
        request,
        "signed.html",
        {
            "draft": draft,
            "decision": signed_decision,
            "label": DECISION_LABELS[decision],
            "meaning": SIGNATURE_MEANINGS[decision],
            "reason": reason.strip(),
            "signer": principal,
        },
    )


router.include_router(oidc_pages.router)
router.include_router(media_pages.router)
router.include_router(consent_pages.router)
router.include_router(channel_pages.router)
router.include_router(operations_pages.router)
router.include_router(calendar_pages.router)
router.include_router(flow_pages.router)
router.include_router(crisis_pages.router)
router.include_router(feedback_pages.router)
router.include_router(notification_pages.router)
router.include_router(case_pages.router)
router.include_router(moderation_pages.router)
