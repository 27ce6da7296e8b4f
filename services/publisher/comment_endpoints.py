"""The comment API: the moderation inbox's list, one comment, hiding one (one click, audited,
through the adapter), and the review service's read of a comment it screens (services only)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from services.kit.auth import InternalCaller, require_roles
from services.kit.deps import SessionDep
from services.kit.errors import Forbidden
from services.kit.tokens import Principal
from services.publisher.comment_listeners import listen_to_accounts
from services.publisher.comment_schemas import CommentList, CommentOut, HideIn, ListeningOut
from services.publisher.comment_webhooks import (
    SIGNATURE_HEADER,
    accounts_for,
    check_signature,
    pushed_objects,
)
from services.publisher.comments import MODERATOR_ROLES, CommentService, suggested_reply
from services.publisher.models import Comment
from services.publisher.networks.base import CommentModerator

router = APIRouter(prefix="/api/v1/comments", tags=["comments"])
internal = APIRouter(prefix="/internal/v1/comments", tags=["internal"], dependencies=[InternalCaller])
READERS = require_roles(*MODERATOR_ROLES, "pharmacovigilance")
MODERATORS = require_roles(*MODERATOR_ROLES)


def get_comment_service(request: Request, session: SessionDep) -> CommentService:
    factory = request.app.state.comment_service
    service: CommentService = factory(session)
    return service


CommentServiceDep = Annotated[CommentService, Depends(get_comment_service)]


def _out(request: Request, service: CommentService, comment: Comment) -> CommentOut:
    adapter = request.app.state.adapters.get(comment.network)
    return CommentOut(
        id=comment.id,
        network=comment.network,
        account=comment.account,
        publication_id=comment.publication_id,
        draft_id=comment.draft_id,
        external_id=comment.external_id,
        in_reply_to=comment.in_reply_to,
        author=comment.author,
        url=comment.url,
        text=service.text_of(comment),
        created_at=comment.created_at,
        read_at=comment.read_at,
        screening_id=comment.screening_id,
        categories=list(comment.categories),
        moderation=comment.moderation,
        moderated_at=comment.moderated_at,
        suggested_reply=suggested_reply(comment.categories),
        can_hide=isinstance(adapter, CommentModerator),
    )


@router.get("", response_model=CommentList)
async def list_comments(
    request: Request,
    service: CommentServiceDep,
    _principal: Annotated[Principal, READERS],
    account: str | None = None,
    category: Annotated[str | None, Query(description="a finding category, or `any`")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CommentList:
    """Screened comments, newest first: the moderation inbox (`category=any`: with a finding)."""
    comments = await service.listing(account=account, category=category, limit=limit)
    return CommentList(comments=[_out(request, service, c) for c in comments])


@router.get("/{comment_id}", response_model=CommentOut)
async def get_comment(
    comment_id: str, request: Request, service: CommentServiceDep, _principal: Annotated[Principal, READERS]
) -> CommentOut:
    return _out(request, service, await service.get(comment_id))


@router.post("/{comment_id}/hide", response_model=CommentOut)
async def hide_comment(
    comment_id: str,
    data: HideIn,
    request: Request,
    service: CommentServiceDep,
    principal: Annotated[Principal, MODERATORS],
) -> CommentOut:
    """Hidden on its network where it can hide (Facebook, Instagram), else flagged for the account
    owner to delete; audited either way."""
    return _out(request, service, await service.hide(comment_id, principal, data.reason))


@internal.get("/{comment_id}", response_model=CommentOut)
async def internal_comment(comment_id: str, request: Request, service: CommentServiceDep) -> CommentOut:
    """The comment with its text, for the review service's screening (services only)."""
    return _out(request, service, await service.get(comment_id))


@router.post("/listen", response_model=ListeningOut)
async def listen(request: Request, _principal: Annotated[Principal, require_roles("admin")]) -> ListeningOut:
    """Start listening to every connected account that is not listened to yet (one already
    listened to is kept)."""
    state = request.app.state
    accounts = await listen_to_accounts(
        state.comment_workflows,
        state.sessionmaker,
        state.adapters,
        poll_seconds=state.settings.publisher_comment_poll_seconds,
    )
    return ListeningOut(accounts=accounts)


@router.get("/webhooks/meta", response_model=None)
async def meta_subscribe(
    request: Request,
    mode: Annotated[str, Query(alias="hub.mode", max_length=32)],
    verify_token: Annotated[str, Query(alias="hub.verify_token", max_length=500)],
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)],
) -> PlainTextResponse:
    """Meta's subscription check: the challenge back when the verify token is this deployment's."""
    expected = request.app.state.settings.meta_webhook_verify_token()
    if mode != "subscribe" or not expected or not hmac.compare_digest(expected, verify_token):
        raise Forbidden("the verify token does not match", code="verify_token_mismatch")
    return PlainTextResponse(challenge)


@router.post("/webhooks/meta", response_model=ListeningOut)
async def meta_push(request: Request, session: SessionDep) -> ListeningOut:
    """A signed push: the named accounts' listeners read now (the comments come through the adapter)."""
    body = await request.body()
    state = request.app.state
    check_signature(state.meta_app_secret, body, request.headers.get(SIGNATURE_HEADER))
    accounts = await accounts_for(session, sorted(pushed_objects(body)))
    woken = [name for name in accounts if await state.comment_workflows.poll_now(name)]
    return ListeningOut(accounts=woken)
