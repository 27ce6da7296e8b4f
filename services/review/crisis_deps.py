"""The crisis lane's typed dependency: its service, built per request from the app's clients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from services.kit.credentials import GatewayCredentialChecker
from services.kit.deps import SessionDep
from services.review.crisis import CrisisService
from services.review.crisis_templates import CrisisTemplateService
from workflows.client import ApprovalWorkflowClient
from workflows.crisis_client import CrisisWorkflowClient


def _credentials(request: Request) -> Any:
    credentials = request.app.state.credentials
    if isinstance(credentials, GatewayCredentialChecker):
        credentials = credentials.on_behalf_of(request.client.host if request.client else None)
    return credentials


def get_crisis_service(request: Request, session: SessionDep) -> CrisisService:
    state = request.app.state
    credentials = _credentials(request)
    return CrisisService(
        session,
        policy=state.policy,
        audit=state.audit,
        credentials=credentials,
        signer=getattr(state, "signer", None),
        drafts=getattr(state, "drafts", None),
        screener=getattr(state, "screener", None),
        workflows=CrisisWorkflowClient(state.temporal),
        approvals=ApprovalWorkflowClient(state.temporal),
    )


CrisisServiceDep = Annotated[CrisisService, Depends(get_crisis_service)]


def get_template_service(request: Request, session: SessionDep) -> CrisisTemplateService:
    state = request.app.state
    return CrisisTemplateService(
        session,
        policy=state.policy,
        audit=state.audit,
        credentials=_credentials(request),
        signer=getattr(state, "signer", None),
        drafts=getattr(state, "drafts", None),
        screener=getattr(state, "screener", None),
        workflows=CrisisWorkflowClient(state.temporal),
    )


TemplateServiceDep = Annotated[CrisisTemplateService, Depends(get_template_service)]
