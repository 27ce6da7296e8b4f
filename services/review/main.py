from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from services.kit.app import create_service_app
from services.kit.audit_client import AuditClient, delivering_pending_key_events
from services.kit.auth import (
    JwksKeySet,
    KeyFilesKeySet,
    RevocationList,
    gateway_revocations,
    install_internal_credentials,
)
from services.kit.background import in_background
from services.kit.clock import utcnow
from services.kit.credentials import GatewayCredentialChecker
from services.kit.db import create_engine, create_sessionmaker, session_scope
from services.kit.http import internal_client, service_client
from services.kit.limits import LimitSettings
from services.kit.metrics import add_scrape_refresher
from services.kit.processes import activity_worker, serves_api
from services.kit.temporal import connect
from services.kit.tokens import load_key_ring
from services.review import ae_case_endpoints
from services.review.activities import ReviewActivities
from services.review.channels_client import PublisherChannelStates
from services.review.comment_activities import CommentActivities
from services.review.comments_client import PublisherComments
from services.review.config import ReviewSettings, get_settings
from services.review.crisis_activities import CrisisActivities
from services.review.crisis_endpoints import router as crisis_router
from services.review.crisis_templates import CrisisTemplateActivities
from services.review.drafts_client import DraftsVersionSource
from services.review.endpoints import router
from services.review.internal_endpoints import router as internal_router
from services.review.metrics import refresh_queue_gauges
from services.review.models import PolicyVersion
from services.review.notifications.deliverer import Deliverer
from services.review.notifications.endpoints import router as notifications_router
from services.review.notifications.mailer import Mailer, SmtpSettings
from services.review.offboarding import Offboarding
from services.review.policy import LoadedPolicy, PolicyError, load_policy_file
from services.review.repository import ReviewRepository
from services.review.screening.engine import Screener
from services.review.signing import KEY_NAME, ReviewSigner
from services.review.ui.deps import UiState
from services.review.ui.endpoints import router as ui_router
from services.review.ui.endpoints import static_files
from services.review.ui.security import FailureLimiter, UiSecurityHeaders
from services.review.ui.upstream import AuditDraftHistory, GatewayIdentity, UserApi
from workflows.client import ApprovalWorkflowClient
from workflows.comment_client import CommentWorkflowClient
from workflows.contracts import REVIEW_TASK_QUEUE

log = logging.getLogger("clearpost.review")


async def _record_policy(app: FastAPI, policy: LoadedPolicy, source: str) -> None:
    async with session_scope(app.state.sessionmaker) as session:
        repo = ReviewRepository(session)
        if await repo.policy_version(policy.version) is None:
            repo.add(
                PolicyVersion(
                    id=policy.version,
                    name=policy.policy.name,
                    document=policy.document,
                    source=source,
                    loaded_at=utcnow(),
                )
            )


def _mailer(settings: ReviewSettings) -> Mailer | None:
    """No SMTP host: e-mail is off (the inbox and webhooks still deliver)."""
    if not settings.smtp_host:
        return None
    return Mailer(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password_value(),
            starttls=settings.smtp_starttls,
        )
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    try:
        policy = load_policy_file(settings.review_policy_file)
    except PolicyError as exc:
        log.error("approval policy rejected: %s", exc)
        raise SystemExit(f"clearpost review: approval policy rejected: {exc}") from exc
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    app.state.settings = settings
    app.state.sessionmaker = create_sessionmaker(engine)
    install_internal_credentials(app, settings, "review")
    app.state.policy = policy
    # One screening engine per process, built before the first request (it loads its lexicons once).
    app.state.screener = Screener(policy)
    app.state.signer = ReviewSigner(load_key_ring(settings.service_keys_dir("review"), KEY_NAME))
    # What the publisher and the workflow's plan trust, read from the key files again every minute.
    app.state.published_keys = KeyFilesKeySet(settings.service_keys_dir("review"), KEY_NAME)
    await _record_policy(app, policy, str(settings.review_policy_file))
    async with (
        service_client() as http,
        # Outside receivers (chat tools' webhooks): their own client, redirects not followed.
        httpx.AsyncClient(timeout=10.0, follow_redirects=False) as webhook_http,
        internal_client(settings.service_url("audit"), app.state.internal_token) as audit_http,
        internal_client(settings.service_url("drafts"), app.state.internal_token) as drafts_http,
        internal_client(settings.service_url("publisher"), app.state.internal_token) as publisher_http,
        # Key rotations `clearpost keys` could not hand to the audit service yet.
        delivering_pending_key_events(audit_http, settings.service_keys_dir("review")),
    ):
        app.state.key_set = JwksKeySet(f"{settings.service_url('gateway')}/api/v1/auth/jwks", http)
        app.state.audit = AuditClient(audit_http, "review")
        app.state.drafts = DraftsVersionSource(drafts_http)
        app.state.channel_states = PublisherChannelStates(publisher_http)
        app.state.credentials = GatewayCredentialChecker(
            http,
            settings.service_url("gateway"),
            internal_token=app.state.internal_token,
            internal_url=settings.gateway_internal(),
        )
        app.state.ui = UiState(
            identity=GatewayIdentity(http, settings.service_url("gateway")),
            user_api=UserApi(
                http,
                drafts_url=settings.service_url("drafts"),
                publisher_url=settings.service_url("publisher"),
            ),
            history=AuditDraftHistory(audit_http),
            limiter=FailureLimiter(
                per_account=settings.review_ui_max_failures_per_account,
                per_address=settings.review_ui_max_failures_per_address,
                window_seconds=settings.review_ui_failure_window_seconds,
            ),
            idle_timeout=timedelta(seconds=settings.review_ui_idle_timeout_seconds),
            claim_idle=timedelta(seconds=settings.review_ui_claim_idle_seconds),
            claim_expiry=timedelta(hours=settings.review_claim_expiry_hours)
            if settings.review_claim_expiry_hours > 0
            else None,
        )
        app.state.temporal = None
        if settings.temporal_enabled:
            app.state.temporal = await connect(settings)
        app.state.comment_workflows = CommentWorkflowClient(app.state.temporal)
        # Deactivated users: their tokens are refused (kit/auth.py) and, as each one appears, what
        # they leave behind here is undone (services/review/offboarding.py).
        app.state.revocations = RevocationList(
            gateway_revocations(http, settings.gateway_internal(), app.state.internal_token),
            interval=LimitSettings().revocation_refresh_seconds,
        )
        app.state.offboarding = Offboarding(app.state.sessionmaker, app.state.audit, app.state.temporal)
        app.state.revocations.add_listener(app.state.offboarding.on_revocations)
        # The notice outbox, delivered (services/review/notifications/deliverer.py).
        app.state.deliverer = Deliverer(
            app.state.sessionmaker,
            public_url=settings.public_url or settings.service_url("gateway"),
            mailer=_mailer(settings),
            http=webhook_http,
            webhook_attempts=settings.notify_webhook_attempts,
            webhook_backoff_seconds=settings.notify_webhook_backoff_seconds,
        )
        # In the API process only: a worker-only process (`clearpost worker review`) delivers nothing.
        delivering = (
            in_background(
                lambda: app.state.deliverer.run(settings.notify_interval_seconds), name="review-notifications"
            )
            if serves_api(app)
            else contextlib.nullcontext()
        )
        if app.state.temporal is not None:
            activities = ReviewActivities(
                app.state.sessionmaker,
                policy,
                app.state.drafts,
                screener=app.state.screener,
                signer=app.state.signer,
                published_keys=app.state.published_keys,
                channels=app.state.channel_states,
            )
            crisis = CrisisActivities(
                app.state.sessionmaker,
                app.state.audit,
                app.state.drafts,
                ApprovalWorkflowClient(app.state.temporal),
            )
            comments = CommentActivities(
                app.state.sessionmaker,
                policy,
                PublisherComments(publisher_http),
                app.state.audit,
                screener=app.state.screener,
            )
            templates = CrisisTemplateActivities(
                app.state.sessionmaker, policy, app.state.audit, app.state.drafts, app.state.signer
            )
            handlers = [*activities.all, *crisis.all, *templates.all, *comments.all]
            async with (
                delivering,
                activity_worker(app, app.state.temporal, REVIEW_TASK_QUEUE, handlers),
            ):
                yield
        else:
            async with delivering:
                yield
    await engine.dispose()


app = create_service_app(
    service="review",
    title="Clearpost review",
    description="Screening, the approval policy, review tasks and signed decisions.",
    lifespan=lifespan,
    routers=[
        router,
        notifications_router,
        crisis_router,
        internal_router,
        ae_case_endpoints.router,
        ui_router,
    ],
)
add_scrape_refresher(app, refresh_queue_gauges)
app.mount("/review/static", static_files, name="review-static")
app.add_middleware(UiSecurityHeaders, identity_provider=get_settings().oidc_issuer)
