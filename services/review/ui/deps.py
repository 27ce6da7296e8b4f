"""Dependencies of the review UI: its state, the signed-in user, the same-site check, error pages."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from services.kit.auth import KeySet
from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.kit.deps import SessionDep
from services.kit.errors import ClearpostError, Forbidden
from services.kit.tokens import Principal
from services.review.notifications.service import NotificationService
from services.review.ui.render import STAFF_ROLES, error_page, redirect
from services.review.ui.repository import UiRepository
from services.review.ui.security import (
    SESSION_COOKIE,
    FailureLimiter,
    client_address,
    cross_site_reason,
    tokens_match,
)
from services.review.ui.service import ClaimService, CommentService
from services.review.ui.sessions import SessionEnded, SignedIn, UiSessions
from services.review.ui.upstream import DraftHistory, GatewayIdentity, UserApi

ERROR_TITLES = {
    400: "That request could not be handled",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Not done: something changed",
    422: "Please check the form",
    429: "Too many attempts",
    503: "A service is not answering",
}


@dataclass
class UiState:
    """What the UI needs beyond the review service's own state; built once in lifespan."""

    identity: GatewayIdentity
    user_api: UserApi
    history: DraftHistory
    limiter: FailureLimiter
    idle_timeout: timedelta
    claim_idle: timedelta
    # None: a claim lapses only when its holder goes idle.
    claim_expiry: timedelta | None = None


class CrossSiteRefused(Exception):
    pass


class ShowPage(Exception):
    """Answer with this page instead: a refusal shown where the user acted (see `FormPost.refusable`)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class UiRoute(APIRoute):
    """Routes that answer with HTML pages, including their errors, and send strangers to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except SessionEnded as exc:
                target = request.url.path if request.method == "GET" else "/review/"
                return redirect(f"/review/login?next={quote(target)}" + ("&ended=1" if exc.reason else ""))
            except ShowPage as shown:
                return shown.response
            except CrossSiteRefused as exc:
                return error_page(request, 403, "Refused: cross-site request", f"Nothing was changed: {exc}.")
            except ClearpostError as exc:
                title = ERROR_TITLES.get(exc.status_code, "Something went wrong")
                return error_page(request, exc.status_code, title, exc.detail)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error_page(request, 422, ERROR_TITLES[422], problems)

        return handler


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


UiStateDep = Annotated[UiState, Depends(ui_state)]


async def same_site(request: Request) -> None:
    """Every state-changing UI request must come from our own pages (checked before anything else)."""
    reason = cross_site_reason(request)
    if reason is not None:
        raise CrossSiteRefused(reason)


SameSite = Depends(same_site)


def ui_repository(session: SessionDep) -> UiRepository:
    return UiRepository(session)


UiRepositoryDep = Annotated[UiRepository, Depends(ui_repository)]


def _sessions(request: Request, repo: UiRepository, ui: UiState) -> UiSessions:
    settings = request.app.state.settings
    key_set: KeySet = request.app.state.key_set
    identity = ui.identity
    if isinstance(identity, GatewayIdentity):
        identity = identity.on_behalf_of(client_address(request))
    return UiSessions(
        repo,
        identity=identity,
        key_set=key_set,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        idle_timeout=ui.idle_timeout,
        revocations=getattr(request.app.state, "revocations", None),
    )


def ui_sessions(request: Request, repo: UiRepositoryDep, ui: UiStateDep) -> UiSessions:
    return _sessions(request, repo, ui)


UiSessionsDep = Annotated[UiSessions, Depends(ui_sessions)]


async def signed_in(request: Request, ui: UiStateDep) -> SignedIn:
    """The signed-in user of a UI page. The cookie counts here and nowhere else (never on /api/v1).

    Checking and touching the session is its own unit of work, committed before the page's work
    starts: a page that then waits on the workflow (a decision, whose activities write to this
    database) must not hold a write transaction meanwhile.
    """
    ended: SessionEnded | None = None
    async with session_scope(request.app.state.sessionmaker) as db:
        try:
            signed = await _sessions(request, UiRepository(db), ui).current(
                request.cookies.get(SESSION_COOKIE), utcnow()
            )
        except SessionEnded as exc:
            ended = exc  # raised after the scope commits, so an expired session's removal is kept
        else:
            # The directory `role:` notices expand to, and the unread count in the navigation.
            notifications = NotificationService(db, audit=request.app.state.audit)
            await notifications.remember(signed.principal)
            request.state.unread_notifications = await notifications.unread(signed.principal)
    if ended is not None:
        raise ended
    request.state.signed_in = signed
    request.state.publishing = await publishing_state(ui, signed)
    return signed


# The banner must not hold up every page when the publisher is slow: it is left out instead.
BANNER_WAIT_SECONDS = 3.0


async def publishing_state(ui: UiState, signed: SignedIn) -> dict[str, Any] | None:
    """GET /api/v1/publishing for the pause banner on every page (the staff who may read it), or
    None when the user may not read it or the publisher does not answer."""
    if not signed.principal.has_any(*STAFF_ROLES):
        return None
    try:
        return await ui.user_api.publishing(signed.token, wait_seconds=BANNER_WAIT_SECONDS)
    except ClearpostError:
        return None


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def require_csrf(signed: SignedIn, given: str | None) -> None:
    if not tokens_match(given, signed.session.csrf_token):
        raise Forbidden("the form's security token is missing or out of date; reload the page and try again")


T = TypeVar("T")
# Refusals the user can act on where they are (fix the form, pick another file), so they are shown in
# that page; anything else (an ended sign-in, a service not answering) gets the UI's error page.
REFUSALS_SHOWN_IN_PAGE = frozenset({400, 403, 404, 409, 413, 415, 422, 429})


@dataclass(frozen=True)
class FormPost:
    """A state-changing form post that came from the UI's own pages, from a signed-in user, with the
    session's CSRF token. Every POST handler but sign-in (whose form predates the session) takes one."""

    signed: SignedIn

    @property
    def principal(self) -> Principal:
        return self.signed.principal

    @property
    def token(self) -> str:
        """The user's own access token, for the calls made on their behalf."""
        return self.signed.token

    async def refusable(
        self,
        call: Awaitable[T],
        show: Callable[[ClearpostError], Awaitable[Response | None]],
        *,
        every_error: bool = False,
    ) -> T:
        """The result of `call`; if it is refused with a reason the user can act on, the page `show`
        renders for that refusal instead (it may return None to leave the error to the error page).
        `every_error`: any upstream error is shown in the page (a network that did not answer, say),
        so nothing typed is lost."""
        try:
            return await call
        except ClearpostError as exc:
            if exc.status_code not in REFUSALS_SHOWN_IN_PAGE and not every_error:
                raise
            response = await show(exc)
            if response is None:
                raise
            raise ShowPage(response) from exc


async def form_post(
    _same_site: Annotated[None, Depends(same_site)],
    signed: SignedInDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> FormPost:
    """Same site first (before the session is even looked at), then the session, then its token."""
    require_csrf(signed, csrf_token)
    return FormPost(signed)


FormPostDep = Annotated[FormPost, Depends(form_post)]


def claim_service(request: Request, repo: UiRepositoryDep, ui: UiStateDep) -> ClaimService:
    return ClaimService(repo, idle=ui.claim_idle, expiry=ui.claim_expiry, audit=request.app.state.audit)


ClaimServiceDep = Annotated[ClaimService, Depends(claim_service)]


def comment_service(request: Request, repo: UiRepositoryDep) -> CommentService:
    return CommentService(repo, audit=request.app.state.audit)


CommentServiceDep = Annotated[CommentService, Depends(comment_service)]


def split_list(text: str) -> list[str]:
    """Ids or names a form field takes separated by commas, spaces or lines."""
    return [part for part in re.split(r"[\s,]+", text) if part]


async def channel_choices(ui: UiState, token: str, chosen: list[str]) -> dict[str, Any]:
    """A form's channel checkboxes (templates/_channel_choice.html): the publisher's channels and
    any already chosen, or why the list is missing (the form then takes typed names)."""
    try:
        channels, error = set(await ui.user_api.channel_limits(token)), ""
    except ClearpostError as exc:
        channels, error = set(), exc.detail
    return {"channels": sorted(channels | set(chosen)), "channels_error": error}
