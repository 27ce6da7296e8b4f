"""The review UI's pages: sign-in, the queue, a draft, deciding, commenting and an author's drafts."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from pydantic import ValidationError
from starlette.staticfiles import StaticFiles

from services.kit.errors import ClearpostError, Conflict, Forbidden, NotFound, Unprocessable
from services.kit.tokens import Principal
from services.review.deps import ReviewServiceDep, SessionDep
from services.review.policy import REVIEW_ROLES, LoadedPolicy
from services.review.repository import ReviewRepository
from services.review.schemas import DecisionIn
from services.review.service import now
from services.review.ui.deps import (
    ClaimServiceDep,
    CommentServiceDep,
    SameSite,
    SignedInDep,
    UiRepositoryDep,
    UiRoute,
    UiSessionsDep,
    UiStateDep,
    require_csrf,
)
from services.review.ui.presenters import (
    DECISION_LABELS,
    SIGNATURE_MEANINGS,
    age,
    channel_previews,
    highlight,
    referenced_products,
    word_diff,
)
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
from services.review.ui.sessions import SessionEnded
from services.review.ui.upstream import HistoryUnavailable, SignInRefused
from workflows.contracts import DECISIONS

router = APIRouter(prefix=UI_PREFIX, tags=["review-ui"], include_in_schema=False, route_class=UiRoute)
static_files = StaticFiles(directory=STATIC_DIR)

EDITABLE = ("draft", "changes_requested")
CONSENT_FORM_ROLES = ("compliance", "admin")
VERBS = {"approve": "approve", "reject": "reject", "request_changes": "request changes"}
FormStr = Annotated[str, Form(max_length=20_000)]


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "secure": is_https(request), "path": UI_PREFIX}


def _draft_url(draft_id: str) -> str:
    return f"{UI_PREFIX}/drafts/{quote(draft_id, safe='')}"


def _policy(request: Request) -> LoadedPolicy:
    policy: LoadedPolicy = request.app.state.policy
    return policy


# --- signing in and out ----------------------------------------------------------------------------


def _login_page(
    request: Request, *, next_url: str, error: str = "", notice: str = "", status_code: int = 200
) -> Response:
    token = new_secret()
    response = page(
        request,
        "login.html",
        {"next_url": next_url, "error": error, "notice": notice, "login_csrf": token},
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
        await sessions.current(request.cookies.get(SESSION_COOKIE), now())
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
        secret, signed = await sessions.start(username, password, now())
    except SignInRefused:
        ui.limiter.failed(username, address)
        return _login_page(request, next_url=target, error="Invalid username or password.", status_code=401)
    ui.limiter.succeeded(username)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        try:
            await sessions.end((await sessions.current(old, now())).session)
        except SessionEnded:
            pass
    response = redirect(target)
    response.set_cookie(SESSION_COOKIE, secret, **_cookie_flags(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=UI_PREFIX)
    request.state.signed_in = signed
    return response


@router.post("/logout", dependencies=[SameSite])
async def logout(
    request: Request,
    signed: SignedInDep,
    sessions: UiSessionsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(signed, csrf_token)
    await sessions.end(signed.session)
    response = redirect(f"{UI_PREFIX}/login")
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
    current = now()
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
                "claim": held.get((item.draft_id, item.stage)),
            }
        )
    all_channels = sorted({c for d in drafts.values() for c in d.get("channels", [])})
    return page(
        request,
        "queue.html",
        {
            "rows": rows,
            "stages": list(_policy(request).policy.stages),
            "channels": all_channels,
            "stage": stage,
            "channel": channel,
            "me": principal.user_id,
        },
    )


async def _may_claim(review: Any, principal: Principal, draft_id: str, stage: str) -> None:
    if not any(i.draft_id == draft_id for i in await review.queue(principal, stage=stage)):
        raise Forbidden(f"the {stage} stage of this draft is not in your queue")


@router.post("/claims", dependencies=[SameSite])
async def claim(
    signed: SignedInDep,
    review: ReviewServiceDep,
    claims: ClaimServiceDep,
    draft_id: Annotated[str, Form(max_length=64)],
    stage: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(signed, csrf_token)
    await _may_claim(review, signed.principal, draft_id, stage)
    await claims.claim(draft_id, stage, signed.principal, now())
    return redirect(_draft_url(draft_id))


@router.post("/claims/release", dependencies=[SameSite])
async def release(
    signed: SignedInDep,
    claims: ClaimServiceDep,
    draft_id: Annotated[str, Form(max_length=64)],
    stage: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(signed, csrf_token)
    await claims.release(draft_id, stage, signed.principal, now())
    return redirect(f"{UI_PREFIX}/queue")


# --- a draft ---------------------------------------------------------------------------------------


async def _stage_rows(
    request: Request, session: Any, repo: Any, claims: Any, draft: dict[str, Any], principal: Principal
) -> list[dict[str, Any]]:
    """Each stage of the draft: its status and decisions, and whether this user may decide it now."""
    review_repo = ReviewRepository(session)
    decided = (await review_repo.stages_decided_by(principal.user_id)).get(draft["id"], set())
    tasks = {t.stage: t for t in await repo.open_tasks_for(draft["id"]) if t.version == draft["version"]}
    held = await claims.active_claims([draft["id"]], now())
    rows = []
    for stage in draft.get("stages", []):
        name = stage["stage"]
        task = tasks.get(name)
        may_decide = bool(
            task is not None
            and principal.has_any(*task.roles)
            and task.author_id != principal.user_id
            and not (decided - {name})
        )
        rows.append(
            {
                **stage,
                "open": task is not None,
                "may_decide": may_decide,
                "claim": held.get((draft["id"], name)),
            }
        )
    return rows


@router.get("/drafts/{draft_id}")
async def draft_page(
    request: Request,
    draft_id: str,
    signed: SignedInDep,
    ui: UiStateDep,
    session: SessionDep,
    repo: UiRepositoryDep,
    claims: ClaimServiceDep,
    comments: CommentServiceDep,
) -> Response:
    principal = signed.principal
    # The drafts service decides who may see the draft; nothing below is shown unless it agrees.
    draft = await ui.user_api.draft(signed.token, draft_id)
    versions = await ui.user_api.versions(signed.token, draft_id)
    try:
        limits = await ui.user_api.channel_limits(signed.token)
        limits_error = ""
    except ClearpostError as exc:
        limits, limits_error = {}, exc.detail
    screening = await ReviewRepository(session).latest_screening(draft_id, draft["version"])
    marked = highlight(draft["title"], draft["body"], screening.findings if screening else [])
    previous = next((v for v in versions if v["version"] == draft["version"] - 1), None)
    try:
        history: list[dict[str, Any]] | None = sorted(
            await ui.history.events(draft_id), key=lambda e: e.get("seq", 0), reverse=True
        )
        history_error = ""
    except HistoryUnavailable as exc:
        history, history_error = None, str(exc)
    await claims.touch(draft_id, principal, now())
    change_requests = [
        {"stage": s["stage"], **d}
        for s in draft.get("stages", [])
        for d in s.get("decisions", [])
        if d.get("decision") == "request_changes"
    ]
    is_author = draft["author_id"] == principal.user_id
    consents, consents_error = await _draft_consents(ui, signed.token, draft)
    return page(
        request,
        "draft.html",
        {
            "draft": draft,
            "stages": await _stage_rows(request, session, repo, claims, draft, principal),
            "previews": channel_previews(draft["body"], draft["channels"], limits),
            "limits_error": limits_error,
            "text": marked,
            "screening": screening,
            "products": referenced_products(_policy(request), screening.products if screening else []),
            "previous": previous,
            "title_diff": word_diff(previous["title"], draft["title"]) if previous else [],
            "body_diff": word_diff(previous["body"], draft["body"]) if previous else [],
            "comments": await comments.thread(draft_id),
            "history": history,
            "history_error": history_error,
            "change_requests": change_requests,
            "can_revise": is_author and draft["status"] in EDITABLE,
            "known_channels": sorted(set(limits) | set(draft["channels"])),
            "consents": consents,
            "consents_error": consents_error,
            "media": draft.get("media", []),
            "may_read_forms": principal.has_any(*CONSENT_FORM_ROLES),
        },
    )


async def _draft_consents(ui: Any, token: str, draft: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The consents the draft relies on, when it names any (each read is an audit event)."""
    named = list(draft.get("consent_ids") or []) + [
        m["consent_id"] for m in draft.get("media", []) if m.get("consent_id")
    ]
    if not named:
        return None, ""
    try:
        return await ui.user_api.draft_consents(token, draft["id"]), ""
    except ClearpostError as exc:
        return None, exc.detail


@router.get("/drafts/{draft_id}/media/{digest}")
async def draft_media(draft_id: str, digest: str, signed: SignedInDep, ui: UiStateDep) -> Response:
    """An image of the draft, through the drafts API with the user's own token."""
    data, media_type = await ui.user_api.media(signed.token, draft_id, digest)
    return Response(data, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/consents/{consent_id}/form")
async def consent_form(consent_id: str, signed: SignedInDep, ui: UiStateDep) -> Response:
    """The signed consent form, for compliance and admins (the drafts service checks and audits)."""
    if not signed.principal.has_any(*CONSENT_FORM_ROLES):
        raise Forbidden("signed consent forms are for compliance staff and admins")
    data, media_type = await ui.user_api.consent_form(signed.token, consent_id)
    return Response(
        data,
        media_type=media_type,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="consent-{consent_id}"',
        },
    )


@router.post("/drafts/{draft_id}/comments", dependencies=[SameSite])
async def add_comment(
    draft_id: str,
    signed: SignedInDep,
    ui: UiStateDep,
    comments: CommentServiceDep,
    body: FormStr,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(signed, csrf_token)
    draft = await ui.user_api.draft(signed.token, draft_id)  # only those who may see it comment on it
    await comments.add(draft_id, draft["version"], body, signed.principal, now())
    return redirect(f"{_draft_url(draft_id)}#comments")


@router.post("/drafts/{draft_id}/versions", dependencies=[SameSite])
async def submit_new_version(
    draft_id: str,
    signed: SignedInDep,
    ui: UiStateDep,
    title: Annotated[str, Form(max_length=300)],
    body: FormStr,
    channels: Annotated[list[str], Form()],
    patient_content: Annotated[str, Form(max_length=10)] = "",
    consent_ids: Annotated[str, Form(max_length=700)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The author's new version, through the drafts API with the author's own token: PUT, then submit."""
    require_csrf(signed, csrf_token)
    draft = await ui.user_api.draft(signed.token, draft_id)
    content = {
        "title": title,
        "body": body,
        "channels": channels,
        "patient_content": bool(patient_content),
        "consent_ids": [c for c in re.split(r"[\s,]+", consent_ids) if c],
        "scheduled_at": draft.get("scheduled_at"),
    }
    await ui.user_api.revise(signed.token, draft_id, content)
    await ui.user_api.submit(signed.token, draft_id)
    return redirect(_draft_url(draft_id))


@router.get("/my")
async def my_drafts(request: Request, signed: SignedInDep, ui: UiStateDep) -> Response:
    mine = [d for d in await ui.user_api.drafts(signed.token) if d["author_id"] == signed.principal.user_id]
    return page(request, "my.html", {"drafts": mine})


# --- deciding --------------------------------------------------------------------------------------


async def _decision_context(
    request: Request, session: Any, repo: Any, draft: dict[str, Any], stage: str, principal: Principal
) -> dict[str, Any]:
    """The open task this user may decide, or the 403/409 that explains why not."""
    policy = _policy(request)
    tasks = {t.stage: t for t in await repo.open_tasks_for(draft["id"]) if t.version == draft["version"]}
    task = tasks.get(stage)
    roles = (
        list(task.roles)
        if task
        else list(policy.policy.stages[stage].roles)
        if stage in policy.policy.stages
        else []
    )
    if not roles:
        raise NotFound(f"there is no {stage!r} stage")
    if not principal.has_any(*roles):
        raise Forbidden(
            f"the {stage} stage is decided by {', '.join(roles)}; your roles are "
            f"{', '.join(sorted(principal.roles)) or 'none'}"
        )
    if draft["author_id"] == principal.user_id:
        raise Forbidden("authors do not review their own drafts")
    if task is None:
        raise Conflict(f"the {stage} stage is not waiting for a decision on the current version")
    decided = (await ReviewRepository(session).stages_decided_by(principal.user_id)).get(draft["id"], set())
    if decided - {stage}:
        raise Forbidden(f"you decided the {', '.join(sorted(decided))} stage of this draft already")
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
    session: SessionDep,
    repo: UiRepositoryDep,
    claims: ClaimServiceDep,
) -> Response:
    draft = await ui.user_api.draft(signed.token, draft_id)
    context = await _decision_context(request, session, repo, draft, stage, signed.principal)
    holder = await claims.held_by_other(draft_id, stage, signed.principal, now())
    if holder is not None:
        raise Conflict(f"{holder.holder_name} has claimed the {stage} stage of this draft")
    return _decision_form(request, context)


@router.post("/drafts/{draft_id}/stages/{stage}/decide", dependencies=[SameSite])
async def decide(
    request: Request,
    draft_id: str,
    stage: str,
    signed: SignedInDep,
    ui: UiStateDep,
    session: SessionDep,
    repo: UiRepositoryDep,
    claims: ClaimServiceDep,
    review: ReviewServiceDep,
    decision: Annotated[str, Form(max_length=32)],
    content_hash: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require_csrf(signed, csrf_token)
    principal = signed.principal
    draft = await ui.user_api.draft(signed.token, draft_id)
    context = {
        **await _decision_context(request, session, repo, draft, stage, principal),
        "content_hash": content_hash,
    }
    holder = await claims.held_by_other(draft_id, stage, principal, now())
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
    try:
        signed_decision = await review.decide(draft_id, data, principal)
    except ClearpostError as exc:
        if exc.code == "signature_failed":
            ui.limiter.failed(principal.username, address)
            return _decision_form(
                request,
                context,
                error="The password did not match. Nothing was signed.",
                reason=reason,
                status_code=403,
            )
        if exc.status_code == 409:
            current = await ui.user_api.draft(signed.token, draft_id)
            return page(
                request,
                "refused.html",
                {"draft": current, "stage": stage, "seen_hash": content_hash, "detail": exc.detail},
                status_code=409,
            )
        raise
    ui.limiter.succeeded(principal.username)
    await claims.release(draft_id, stage, principal, now())
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
