from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.credentials import GatewayCredentialChecker
from services.kit.deps import SessionDep
from services.review.delegations import DelegationService
from services.review.feedback import ScreeningFeedbackService
from services.review.notifications.service import NotificationService
from services.review.service import ReviewService


def get_review_service(request: Request, session: SessionDep) -> ReviewService:
    state = request.app.state
    credentials = state.credentials
    if isinstance(credentials, GatewayCredentialChecker):
        # Behind the gateway, uvicorn has already put the browser's address here.
        credentials = credentials.on_behalf_of(request.client.host if request.client else None)
    return ReviewService(
        session,
        policy=state.policy,
        audit=state.audit,
        temporal=state.temporal,
        credentials=credentials,
        reauthentications=credentials if isinstance(credentials, GatewayCredentialChecker) else None,
        screener=getattr(state, "screener", None),
        signer=getattr(state, "signer", None),
        drafts=getattr(state, "drafts", None),
        channels=getattr(state, "channel_states", None),
    )


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]


def get_feedback_service(request: Request, session: SessionDep) -> ScreeningFeedbackService:
    state = request.app.state
    return ScreeningFeedbackService(
        session,
        audit=state.audit,
        drafts=getattr(state, "drafts", None),
        screener=getattr(state, "screener", None),
    )


FeedbackServiceDep = Annotated[ScreeningFeedbackService, Depends(get_feedback_service)]


def get_delegation_service(request: Request, session: SessionDep) -> DelegationService:
    return DelegationService(session, audit=request.app.state.audit)


DelegationServiceDep = Annotated[DelegationService, Depends(get_delegation_service)]


def get_notification_service(request: Request, session: SessionDep) -> NotificationService:
    return NotificationService(session, audit=request.app.state.audit)


NotificationServiceDep = Annotated[NotificationService, Depends(get_notification_service)]
