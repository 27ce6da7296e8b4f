from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient
from services.kit.auth import JwksKeySet, install_internal_credentials
from services.kit.credentials import GatewayCredentialChecker
from services.kit.db import create_engine, create_sessionmaker
from services.kit.http import internal_client, service_client
from services.kit.processes import activity_worker
from services.kit.sealing import FieldSealer
from services.kit.temporal import connect
from services.publisher import account_endpoints, comment_endpoints, operations_endpoints, public_media
from services.publisher.accounts import AccountService, CredentialSeal
from services.publisher.approvals import ApprovalGate
from services.publisher.channels import build_channels
from services.publisher.comment_activities import CommentActivities
from services.publisher.comment_ingest import CommentIngest, CommentSeal
from services.publisher.comment_listeners import listen_to_accounts
from services.publisher.comments import CommentService
from services.publisher.config import get_settings
from services.publisher.crisis import CrisisPublisherActivities
from services.publisher.directory import ChannelDirectory
from services.publisher.drafts_client import DraftsVersionClient
from services.publisher.endpoints import router
from services.publisher.networks import DEFAULT_API_URLS, build_adapters
from services.publisher.networks.base import AccountCredentials
from services.publisher.public_media import MediaLinks
from services.publisher.takedowns import LivePostActivities
from workflows.client import ApprovalWorkflowClient
from workflows.comment_client import CommentWorkflowClient
from workflows.contracts import PUBLISHER_TASK_QUEUE


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Before anything else: a configured channel without an implementation, or unusable network
    # settings, must stop startup.
    channels = build_channels(
        settings.publisher_channels, outbox_dir=settings.outbox_dir, webhook=settings.webhook_config()
    )
    network_configs = settings.network_configs()
    adapters = build_adapters(network_configs)
    # Meta signs its webhook pushes with the app's secret (services/publisher/comment_webhooks.py).
    app.state.meta_app_secret = (
        network_configs["facebook"].client_secret if "facebook" in network_configs else None
    )
    app.state.oauth_clients = settings.oauth_clients()
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.settings = settings
    app.state.sessionmaker = sessionmaker = create_sessionmaker(engine)
    install_internal_credentials(app, settings, "publisher")
    keys = settings.credential_keys()
    app.state.sealer = sealer = FieldSealer(keys)
    app.state.adapters = adapters
    app.state.media_links = links = MediaLinks(
        keys.derive(b"clearpost public media links"), settings.public_base_url
    )
    try:
        async with (
            service_client() as http,
            internal_client(settings.service_url("drafts"), app.state.internal_token) as drafts_http,
            internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
        ):
            app.state.key_set = JwksKeySet(f"{settings.gateway_url}/api/v1/auth/jwks", http)
            app.state.drafts = drafts = DraftsVersionClient(drafts_http)
            app.state.audit = audit = AuditClient(audit_http, "publisher")
            app.state.credentials = GatewayCredentialChecker(http, settings.service_url("gateway"))
            seal = CredentialSeal(sealer)

            def accounts(session: AsyncSession) -> AccountService:
                return AccountService(
                    session,
                    seal=seal,
                    adapters=app.state.adapters,
                    audit=app.state.audit,
                    default_base_urls=DEFAULT_API_URLS,
                )

            app.state.account_service = accounts
            comment_seal = CommentSeal(sealer)

            def comment_service(session: AsyncSession) -> CommentService:
                return CommentService(
                    session,
                    seal=comment_seal,
                    adapters=app.state.adapters,
                    accounts=accounts,
                    audit=app.state.audit,
                )

            app.state.comment_service = comment_service

            async def account_credentials(name: str) -> AccountCredentials:
                async with sessionmaker() as session, session.begin():
                    service = accounts(session)
                    return await service.usable_credentials(await service.get(name))

            app.state.directory = directory = ChannelDirectory(
                channels,
                sessionmaker,
                adapters,
                accounts,
                outbox_dir=settings.outbox_dir,
                media_url=links.url,
            )
            review_keys = JwksKeySet(f"{settings.service_url('review')}/api/v1/reviews/keys", http)
            gate = ApprovalGate(review_keys, audit)
            if settings.temporal_enabled:
                client = await connect(settings)
                app.state.workflows = workflows = ApprovalWorkflowClient(client)
                activities = CrisisPublisherActivities(
                    sessionmaker,
                    drafts,
                    directory,
                    approvals=gate,
                    audit=audit,
                    live_watch=workflows,
                    review_keys=review_keys,
                    takedowns=workflows,
                )
                live = LivePostActivities(sessionmaker, directory, drafts, audit)
                ingest = CommentIngest(sessionmaker, adapters, account_credentials, comment_seal)
                comments = CommentActivities(sessionmaker, ingest, comment_service)
                handlers: list[Callable[..., Any]] = [
                    activities.publish_post,
                    activities.publish_crisis_post,
                    activities.take_down_crisis_post,
                    activities.publish_template_post,
                    live.live_post_plan,
                    live.take_down_post,
                    live.takedown_failed,
                    comments.ingest_comments,
                    comments.record_comment_screening,
                ]
                app.state.comment_workflows = listeners = CommentWorkflowClient(client)
                async with activity_worker(app, client, PUBLISHER_TASK_QUEUE, handlers):
                    await listen_to_accounts(
                        listeners,
                        sessionmaker,
                        adapters,
                        poll_seconds=settings.publisher_comment_poll_seconds,
                    )
                    yield
            else:
                app.state.workflows = ApprovalWorkflowClient(None)
                app.state.comment_workflows = CommentWorkflowClient(None)
                yield
    finally:
        await engine.dispose()


app = create_service_app(
    service="publisher",
    title="Clearpost publisher",
    lifespan=lifespan,
    routers=[
        router,
        account_endpoints.router,
        comment_endpoints.router,
        comment_endpoints.internal,
        operations_endpoints.router,
        operations_endpoints.internal,
        public_media.router,
    ],
)
