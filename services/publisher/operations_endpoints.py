"""When something goes wrong: emergency takedown, pause all / resume, and the drafts service's
takedown of a post whose consent was revoked. Each needs a reason; the person's actions need the
password re-entered (checked by the gateway, never kept). Everything is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from services.kit.auth import CallingService, InternalCaller, require_roles
from services.kit.credentials import CredentialChecker
from services.kit.db import release_connection
from services.kit.deps import SessionDep
from services.kit.errors import ClearpostError, Forbidden, UpstreamUnavailable
from services.kit.tokens import Principal
from services.publisher.deps import (
    AccountServiceDep,
    CredentialsDep,
    DirectoryDep,
    PauseServiceDep,
    TakedownServiceDep,
    WorkflowsDep,
)
from services.publisher.endpoints import channel_list
from services.publisher.pauses import ALL, PAUSE_ROLES
from services.publisher.schemas import (
    ChannelList,
    InternalTakedownIn,
    PauseIn,
    PauseOut,
    PublishingState,
    RemovedByHand,
    ResumeOut,
    SignedAction,
    TakedownAccepted,
)
from services.publisher.takedowns import TAKEDOWN_ROLES, TakedownService
from workflows.client import ApprovalWorkflowClient
from workflows.contracts import TakedownRequest

router = APIRouter(prefix="/api/v1", tags=["takedown and pause"])
internal = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller])
STAFF = require_roles("admin", "publisher", "compliance", "legal", "medical", "auditor")


async def _confirm(credentials: CredentialChecker, principal: Principal, password: str, what: str) -> None:
    if not await credentials.confirms(principal.username, password):
        raise Forbidden(f"the password did not match; {what}", code="signature_failed")


async def _hand_over(
    session: SessionDep,
    takedowns: TakedownService,
    workflows: ApprovalWorkflowClient,
    draft_id: str,
    request_id: str,
    cause: str,
) -> None:
    """Commit the request, then give it to the live post's workflow; a refusal is recorded."""
    await release_connection(session)
    try:
        await workflows.take_down(draft_id, TakedownRequest(request_id=request_id, cause=cause))
    except ClearpostError as exc:
        await takedowns.abandon(draft_id, request_id, f"the takedown could not be started: {exc.detail}")
        await release_connection(session)
        raise UpstreamUnavailable(f"the takedown could not be started; try again: {exc.detail}") from exc


@router.post(
    "/drafts/{draft_id}/takedown", status_code=status.HTTP_202_ACCEPTED, response_model=TakedownAccepted
)
async def take_down(
    draft_id: str,
    data: SignedAction,
    session: SessionDep,
    takedowns: TakedownServiceDep,
    credentials: CredentialsDep,
    workflows: WorkflowsDep,
    principal: Annotated[Principal, require_roles(*TAKEDOWN_ROLES)],
) -> TakedownAccepted:
    """Emergency takedown of a live post (publisher, compliance, admin; reason and password): it is
    deleted from every network it went to, each deletion's evidence kept on its publication, every
    step audited. Answers 202 once the takedown is under way; `GET /api/v1/publications?draft_id=`
    shows each network's removal."""
    await _confirm(credentials, principal, data.password, "nothing was taken down")
    request_id = await takedowns.request(draft_id, data.reason, principal, cause="takedown")
    await _hand_over(session, takedowns, workflows, draft_id, request_id, "takedown")
    return TakedownAccepted(draft_id=draft_id, status="taking_down", request_id=request_id)


@router.post("/publications/{publication_id}/removed-by-hand", response_model=RemovedByHand)
async def removed_by_hand(
    publication_id: str,
    data: SignedAction,
    request: Request,
    session: SessionDep,
    takedowns: TakedownServiceDep,
    credentials: CredentialsDep,
    principal: Annotated[Principal, require_roles(*TAKEDOWN_ROLES)],
) -> RemovedByHand:
    """Record that a post was removed by hand on a network whose API cannot delete it (Instagram):
    `reason` says what was done (publisher, compliance, admin; password). When nothing of the draft
    is left up, its takedown is done and the draft shows `taken_down`."""
    await _confirm(credentials, principal, data.password, "nothing was recorded")
    live = await takedowns.removed_by_hand(publication_id, data.reason, principal)
    if live is not None:
        await release_connection(session)
        await request.app.state.drafts.live_state(
            live.draft_id, status="taken_down", reason=live.takedown_reason, cause="removed_by_hand"
        )
    return RemovedByHand(publication_id=publication_id, takedown_done=live is not None)


@router.get("/publishing", response_model=PublishingState, dependencies=[STAFF])
async def publishing_state(pauses: PauseServiceDep) -> PublishingState:
    """What is paused now, and which approved posts are held by it (the UI's banner)."""
    active = await pauses.active()
    return PublishingState(
        paused_all=any(p.scope == ALL for p in active),
        pauses=[PauseOut.model_validate(p) for p in active],
        held=[h.draft_id for h in await pauses.held()],
    )


@router.post("/publishing/pause", status_code=status.HTTP_201_CREATED, response_model=PauseOut)
async def pause(
    data: PauseIn,
    pauses: PauseServiceDep,
    accounts: AccountServiceDep,
    credentials: CredentialsDep,
    principal: Annotated[Principal, require_roles(*PAUSE_ROLES)],
) -> PauseOut:
    """Pause all publishing at once (or one account's, with `account`): nothing more is posted there;
    scheduled and in-flight posts hold until an explicit resume (compliance, admin; reason, password)."""
    await _confirm(credentials, principal, data.password, "nothing was paused")
    scope = ALL
    if data.account is not None:
        scope = (await accounts.get(data.account)).name
    return PauseOut.model_validate(await pauses.pause(scope, data.reason, principal))


@router.post("/publishing/resume", response_model=ResumeOut)
async def resume(
    data: PauseIn,
    session: SessionDep,
    pauses: PauseServiceDep,
    credentials: CredentialsDep,
    workflows: WorkflowsDep,
    principal: Annotated[Principal, require_roles(*PAUSE_ROLES)],
) -> ResumeOut:
    """Resume (compliance, admin; reason, password): every post the pause held is woken and
    published, after its approvals and consent are checked again."""
    await _confirm(credentials, principal, data.password, "nothing was resumed")
    scope = data.account or ALL
    woken = await pauses.resume(scope, data.reason, principal)
    await release_connection(session)
    for held in woken:
        # A missed signal is not lost: a held post looks again every few minutes on its own.
        try:
            await workflows.publishing_resumed(held.draft_id)
        except ClearpostError:
            continue
    return ResumeOut(scope=scope, woken=[h.draft_id for h in woken])


@internal.get("/channels", response_model=ChannelList)
async def internal_channels(directory: DirectoryDep) -> ChannelList:
    """The channels and whether each can be published to now, for the review service's check
    before an approval is signed and its screening of each rendition (services only)."""
    return await channel_list(directory)


@internal.post(
    "/drafts/{draft_id}/takedown", status_code=status.HTTP_202_ACCEPTED, response_model=TakedownAccepted
)
async def internal_take_down(
    draft_id: str,
    data: InternalTakedownIn,
    caller: CallingService,
    session: SessionDep,
    takedowns: TakedownServiceDep,
    workflows: WorkflowsDep,
) -> TakedownAccepted:
    """The drafts service: a consent this published post relies on was revoked; take it down."""
    if caller != "drafts":
        raise Forbidden("only the drafts service asks for a consent takedown")
    request_id = await takedowns.request(draft_id, data.reason, f"service:{caller}", cause=data.cause)
    await _hand_over(session, takedowns, workflows, draft_id, request_id, data.cause)
    return TakedownAccepted(draft_id=draft_id, status="taking_down", request_id=request_id)
