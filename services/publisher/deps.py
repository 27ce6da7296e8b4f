from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.credentials import CredentialChecker, GatewayCredentialChecker
from services.kit.deps import SessionDep
from services.publisher.accounts import AccountService
from services.publisher.directory import ChannelDirectory
from services.publisher.oauth import OAuthFlow
from services.publisher.pauses import PauseService
from services.publisher.service import PublicationService
from services.publisher.takedowns import TakedownService
from workflows.client import ApprovalWorkflowClient


def get_publication_service(request: Request, session: SessionDep) -> PublicationService:
    return PublicationService(session, drafts=request.app.state.drafts)


PublicationServiceDep = Annotated[PublicationService, Depends(get_publication_service)]


def get_directory(request: Request) -> ChannelDirectory:
    directory: ChannelDirectory = request.app.state.directory
    return directory


DirectoryDep = Annotated[ChannelDirectory, Depends(get_directory)]


def get_account_service(request: Request, session: SessionDep) -> AccountService:
    factory = request.app.state.account_service
    service: AccountService = factory(session)
    return service


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]


def get_oauth_flow(request: Request, session: SessionDep, accounts: AccountServiceDep) -> OAuthFlow:
    state = request.app.state
    return OAuthFlow(
        session,
        adapters=state.adapters,
        clients=state.oauth_clients,
        sealer=state.sealer,
        accounts=accounts,
        audit=state.audit,
        public_url=state.settings.public_base_url,
    )


OAuthFlowDep = Annotated[OAuthFlow, Depends(get_oauth_flow)]


def get_pause_service(request: Request, session: SessionDep) -> PauseService:
    return PauseService(session, audit=request.app.state.audit)


PauseServiceDep = Annotated[PauseService, Depends(get_pause_service)]


def get_takedown_service(request: Request, session: SessionDep) -> TakedownService:
    return TakedownService(session, audit=request.app.state.audit)


TakedownServiceDep = Annotated[TakedownService, Depends(get_takedown_service)]


def get_credentials(request: Request) -> CredentialChecker:
    checker: CredentialChecker = request.app.state.credentials
    if isinstance(checker, GatewayCredentialChecker):
        # The gateway counts wrong passwords per client address too: tell it whose this is.
        checker = checker.on_behalf_of(request.client.host if request.client else None)
    return checker


CredentialsDep = Annotated[CredentialChecker, Depends(get_credentials)]


def get_workflows(request: Request) -> ApprovalWorkflowClient:
    client: ApprovalWorkflowClient = request.app.state.workflows
    return client


WorkflowsDep = Annotated[ApprovalWorkflowClient, Depends(get_workflows)]
