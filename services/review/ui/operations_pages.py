"""When something goes wrong: the emergency takedown of a published post (a form on its draft page)
and pausing or resuming all publishing, or one account's (the Publishing page).

Each needs a reason and the password re-entered; the publisher checks the password with the gateway,
audits the action and refuses what the user's roles do not allow. A refusal is shown where the user
acted, with what they typed kept (never the password). Wrong passwords count against the same limit
as signing a decision.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response

from services.kit.errors import ClearpostError, Forbidden, TooManyAttempts, Unprocessable
from services.kit.tokens import Principal
from services.review.ui.deps import (
    FormPost,
    FormPostDep,
    ShowPage,
    SignedInDep,
    UiRoute,
    UiState,
    UiStateDep,
)
from services.review.ui.draft_view import DraftPageDep, draft_url
from services.review.ui.render import PAUSE_ROLES, TAKEDOWN_ROLES, page, redirect
from services.review.ui.security import UI_PREFIX, client_address
from services.review.ui.sessions import SignedIn

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

PUBLISHING_URL = f"{UI_PREFIX}/publishing"
Reason = Annotated[str, Form(max_length=2000)]
Password = Annotated[str, Form(max_length=1024)]
MIN_REASON = 3  # the publisher's `SignedAction` asks for at least this much


def _require(principal: Principal, roles: tuple[str, ...], what: str) -> None:
    if not principal.has_any(*roles):
        raise Forbidden(what)


def _missing(reason: str, password: str, nothing: str) -> ClearpostError | None:
    """The refusal for an empty reason or password, before anything is sent."""
    if len(reason.strip()) < MIN_REASON:
        return Unprocessable(f"{nothing}: a reason (at least {MIN_REASON} characters) is required")
    if not password:
        return Unprocessable(f"{nothing}: enter your password to confirm")
    return None


async def _signed_call(
    request: Request,
    form: FormPost,
    ui: UiState,
    call: Callable[[], Awaitable[dict[str, Any]]],
    show: Callable[[ClearpostError], Awaitable[Response]],
    nothing: str,
) -> dict[str, Any]:
    """`call` (which sends the password) unless too many wrong passwords were typed; a wrong one counts."""
    principal, address = form.principal, client_address(request)
    wait = ui.limiter.retry_after(principal.username, address)
    if wait is not None:
        minutes = (wait + 59) // 60
        refusal = TooManyAttempts(f"{nothing}: too many wrong passwords; try again in {minutes} min")
        raise ShowPage(await show(refusal))

    async def counted(refusal: ClearpostError) -> Response:
        if refusal.code == "signature_failed":
            ui.limiter.failed(principal.username, address)
            refusal = ClearpostError(
                f"{nothing}: the password did not match", code=refusal.code, status_code=403
            )
        return await show(refusal)

    answer = await form.refusable(call(), counted, every_error=True)
    ui.limiter.succeeded(principal.username)
    return answer


# --- emergency takedown (on the draft page) ---------------------------------------------------------


@router.post("/drafts/{draft_id}/takedown")
async def take_down(
    request: Request,
    draft_id: str,
    form: FormPostDep,
    ui: UiStateDep,
    pages: DraftPageDep,
    reason: Reason = "",
    password: Password = "",
) -> Response:
    """Take a published post down from every network it went to (publisher, compliance, admin)."""
    _require(form.principal, TAKEDOWN_ROLES, "takedowns are for publishers, compliance staff and admins")
    nothing = "Nothing was taken down"

    async def show(refusal: ClearpostError) -> Response:
        return await pages.render(
            form.signed,
            draft_id,
            status_code=refusal.status_code,
            takedown_error=refusal.detail,
            takedown_reason=reason,
        )

    missing = _missing(reason, password, nothing)
    if missing is not None:
        return await show(missing)
    await _signed_call(
        request,
        form,
        ui,
        lambda: ui.user_api.take_down(form.token, draft_id, reason.strip(), password),
        show,
        nothing,
    )
    return redirect(f"{draft_url(draft_id)}?takedown=started#publications")


# --- pause and resume ----------------------------------------------------------------------------------


async def _publishing_page(
    request: Request,
    signed: SignedIn,
    ui: UiState,
    *,
    notice: str = "",
    failed_form: str = "",
    error: str = "",
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    _require(signed.principal, PAUSE_ROLES, "pausing publishing is for compliance staff and admins")
    try:
        state, state_error = await ui.user_api.publishing(signed.token), ""
    except ClearpostError as exc:
        state, state_error = None, exc.detail
    try:
        accounts = [a["name"] for a in await ui.user_api.channel_accounts(signed.token)]
    except ClearpostError:
        accounts = []  # the form then takes a typed account name
    return page(
        request,
        "publishing.html",
        {
            "state": state,
            "state_error": state_error,
            "accounts": accounts,
            "notice": notice,
            "failed_form": failed_form,
            "error": error,
            "typed": typed or {"reason": "", "account": ""},
        },
        status_code=status_code,
    )


@router.get("/publishing")
async def publishing(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    done: Annotated[Literal["paused", "resumed", ""], Query()] = "",
    scope: Annotated[str, Query(max_length=64)] = "",
    woken: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    where = "all publishing" if scope in ("", "all") else f"account {scope}"
    notice = {
        "paused": f"Paused {where}. Nothing more is posted there until it is resumed.",
        "resumed": f"Resumed {where}; {woken} held post{'s' if woken != 1 else ''} will publish now "
        "(after their approvals and consents are checked again).",
        "": "",
    }[done]
    return await _publishing_page(request, signed, ui, notice=notice)


async def _pause_or_resume(
    request: Request,
    form: FormPost,
    ui: UiState,
    action: Literal["pause", "resume"],
    reason: str,
    password: str,
    account: str,
) -> Response:
    _require(form.principal, PAUSE_ROLES, "pausing publishing is for compliance staff and admins")
    nothing = "Nothing was paused" if action == "pause" else "Nothing was resumed"
    typed = {"reason": reason, "account": account.strip()}

    async def show(refusal: ClearpostError) -> Response:
        return await _publishing_page(
            request,
            form.signed,
            ui,
            failed_form=action,
            error=refusal.detail,
            typed=typed,
            status_code=refusal.status_code,
        )

    missing = _missing(reason, password, nothing)
    if missing is not None:
        return await show(missing)
    fields = {"reason": reason.strip(), "password": password, "account": typed["account"] or None}
    answer = await _signed_call(
        request, form, ui, lambda: ui.user_api.pause_or_resume(form.token, action, fields), show, nothing
    )
    scope = quote(str(answer.get("scope", "all")), safe="")
    if action == "pause":
        return redirect(f"{PUBLISHING_URL}?done=paused&scope={scope}")
    return redirect(f"{PUBLISHING_URL}?done=resumed&scope={scope}&woken={len(answer.get('woken', []))}")


@router.post("/publishing/pause")
async def pause(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    reason: Reason = "",
    password: Password = "",
    account: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Pause all publishing at once, or one account's: scheduled and in-flight posts hold."""
    return await _pause_or_resume(request, form, ui, "pause", reason, password, account)


@router.post("/publishing/resume")
async def resume(
    request: Request,
    form: FormPostDep,
    ui: UiStateDep,
    reason: Reason = "",
    password: Password = "",
    account: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Resume: every post the pause held publishes, after its approvals and consent are checked."""
    return await _pause_or_resume(request, form, ui, "resume", reason, password, account)
