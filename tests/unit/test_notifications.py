"""Notifications: the deliverer over SQLite and PostgreSQL against a real SMTP server (aiosmtpd) and
a real webhook receiver: e-mail, inbox, digests, retries with backoff, the dead letter and its
replay, leases, once per recipient and channel (the pure parts: test_notification_events.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import OffboardedUser, ReviewNotice, Screening
from services.review.notifications.deliverer import LEASE, Deliverer
from services.review.notifications.mailer import Mailer, SmtpSettings
from services.review.notifications.models import EmailDelivery, InboxItem, WebhookDelivery
from services.review.notifications.schemas import Preferences, WebhookIn
from services.review.notifications.service import NotificationService
from services.review.policy import LoadedPolicy, load_policy_file
from tests.database import DatabaseFactory
from tests.smtp import SmtpServer
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import SIGNER, FakeVersions
from tests.webhook import WebhookReceiver
from workflows.contracts import DecisionRecord, NoticeDue, OpenReviewTasksInput, StageRequirement

T0 = datetime(2026, 12, 2, 9, 20, tzinfo=UTC)
AUTHOR = Principal("u-author", "avery", "Avery Author", frozenset({"author"}))
CASEY = Principal("u-casey", "casey", "Casey Compliance", frozenset({"compliance"}))
RILEY = Principal("u-riley", "riley", "Riley Compliance", frozenset({"compliance"}))
LENA = Principal("u-lena", "lena", "Lena Legal", frozenset({"legal"}))
ADMIN = Principal("u-admin", "ada", "Ada Admin", frozenset({"admin"}))
TITLE, BODY = "Mrs. Quenby's recovery", "Marisol Quenby, 555-301-7788, walked after surgery."


# --- the deliverer, on both databases -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: LoadedPolicy
    audit: RecordingAudit
    clock: Clock
    smtp: SmtpServer
    http: httpx.AsyncClient

    @property
    def activities(self) -> ReviewActivities:
        return ReviewActivities(self.sessionmaker, self.policy, FakeVersions(), signer=SIGNER)

    def deliverer(self, *, attempts: int = 3) -> Deliverer:
        mailer = Mailer(SmtpSettings("127.0.0.1", self.smtp.port, "clearpost@clinic.example", starttls=False))
        return Deliverer(
            self.sessionmaker, public_url="https://clear.example", mailer=mailer, http=self.http,
            webhook_attempts=attempts, webhook_backoff_seconds=60, clock=self.clock,
        )  # fmt: skip

    async def person(self, principal: Principal, **preferences: object) -> None:
        """The user as the service sees them once they have called the API, with an address."""
        async with self.sessionmaker() as session, session.begin():
            service = NotificationService(session, audit=self.audit, clock=self.clock)
            data = {"email": f"{principal.username}@clinic.example", **preferences}
            await service.set_preferences(principal, Preferences.model_validate(data))

    async def open(self, draft_id: str = "d-1", stages: tuple[str, ...] = ("compliance",)) -> None:
        async with self.sessionmaker() as session, session.begin():
            session.add(
                Screening(
                    id=f"s-{draft_id}", draft_id=draft_id, version=1, content_hash="a" * 64,
                    policy_version=self.policy.version, categories=[], products=[], findings=[],
                    blocking=False, author_id=AUTHOR.user_id, created_at=T0,
                )
            )  # fmt: skip
        await self.activities.open_review_tasks(
            OpenReviewTasksInput(
                draft_id, 1, "a" * 64, AUTHOR.user_id, self.policy.version,
                [StageRequirement(s, list(self.policy.policy.stages[s].roles)) for s in stages],
                f"s-{draft_id}",
            )
        )  # fmt: skip

    async def rows(self, model: type[object]) -> list[object]:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(model))).scalars().all())

    async def inbox(self, principal: Principal) -> list[str]:
        async with self.sessionmaker() as session, session.begin():
            service = NotificationService(session, audit=self.audit, clock=self.clock)
            return [i.event.kind for i in (await service.inbox(principal)).items]


@pytest.fixture
async def world(database: DatabaseFactory) -> AsyncIterator[World]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    with SmtpServer() as smtp:
        async with httpx.AsyncClient() as http:
            yield World(
                create_sessionmaker(engine),
                load_policy_file(DEFAULT_POLICY_FILE),
                RecordingAudit(),
                Clock(),
                smtp,
                http,
            )
    await engine.dispose()


async def test_a_requested_review_reaches_every_holder_of_the_role_by_email_and_inbox(world: World) -> None:
    await world.person(CASEY)
    await world.person(RILEY)
    await world.person(LENA)
    await world.open()

    await world.deliverer().deliver()

    assert sorted(m["To"] for m in world.smtp.messages) == ["casey@clinic.example", "riley@clinic.example"]
    message = world.smtp.to("casey@clinic.example")[0]
    assert message["Subject"] == "[Clearpost] A review is waiting for you: draft d-1"
    assert (
        message["From"] == "clearpost@clinic.example" and message["X-Clearpost-Event"] == "review.requested"
    )
    text = message.get_content()
    assert "Stage: compliance" in text and "https://clear.example/review/drafts/d-1" in text
    assert await world.inbox(CASEY) == ["review.requested"]
    assert await world.inbox(LENA) == []  # not a compliance reviewer
    [notice] = await world.rows(ReviewNotice)
    assert isinstance(notice, ReviewNotice) and notice.delivered_at == T0


async def test_each_notice_reaches_a_recipient_once_per_channel_across_restarts(world: World) -> None:
    await world.person(CASEY)
    await world.open()
    await world.deliverer().deliver()
    await world.deliverer().deliver()  # a new process over the same database
    # Even an outbox row not yet marked (a crash after the fan-out's writes) adds nothing twice.
    async with world.sessionmaker() as session, session.begin():
        notice = (await session.execute(select(ReviewNotice))).scalar_one()
        notice.delivered_at = None
    await world.deliverer().deliver()

    assert len(world.smtp.messages) == 1
    assert len(await world.rows(InboxItem)) == 1 and len(await world.rows(EmailDelivery)) == 1


async def test_no_post_text_reaches_any_channel(world: World) -> None:
    await world.person(CASEY)
    await world.open()
    async with world.sessionmaker() as session, session.begin():
        svc = NotificationService(session, audit=world.audit, clock=world.clock)
        created = await svc.create_webhook(
            WebhookIn(url="http://127.0.0.1:9/none", kinds=["review.requested"]), ADMIN
        )
    await world.deliverer().deliver()
    [row] = await world.rows(WebhookDelivery)
    assert isinstance(row, WebhookDelivery) and created.secret
    for carried in [world.smtp.messages[0].as_string(), json.dumps(row.event)]:
        assert "Quenby" not in carried and "555-301" not in carried and "recovery" not in carried


async def test_a_users_choices_decide_their_channels(world: World) -> None:
    await world.person(CASEY, channels={"review.requested": ["inbox"]})
    await world.person(RILEY, channels={"review.requested": []})
    await world.open()
    await world.deliverer().deliver()
    assert world.smtp.messages == []
    assert await world.inbox(CASEY) == ["review.requested"]
    assert await world.inbox(RILEY) == []


async def test_a_named_person_the_service_has_not_seen_still_gets_an_inbox_item(world: World) -> None:
    await world.open()
    await world.activities.record_decision(
        DecisionRecord(
            "dec-1", "d-1", 1, "a" * 64, "compliance", "request_changes", "see the UI", CASEY.user_id,
            CASEY.name, ["compliance"], T0.isoformat(), world.policy.version,
        )
    )  # fmt: skip
    await world.deliverer().deliver()
    assert await world.inbox(AUTHOR) == ["draft.changes_requested"]
    assert world.smtp.messages == []  # no address known for the author


async def test_an_offboarded_user_is_not_notified(world: World) -> None:
    await world.person(CASEY)
    await world.person(RILEY)
    async with world.sessionmaker() as session, session.begin():
        session.add(
            OffboardedUser(user_id=RILEY.user_id, deactivated_at=T0, completed_at=T0, voided_drafts=[])
        )
    await world.open()
    await world.deliverer().deliver()
    assert [m["To"] for m in world.smtp.messages] == ["casey@clinic.example"]
    assert await world.inbox(RILEY) == []


async def test_a_digest_bundles_a_reviewers_emails_into_one_message_per_period(world: World) -> None:
    await world.person(CASEY, digest="hourly")
    await world.person(RILEY)
    deliverer = world.deliverer()
    await world.open("d-1")
    await deliverer.deliver()
    world.clock.now = T0 + timedelta(minutes=20)
    await world.open("d-2")
    await world.activities.record_review_notice(
        NoticeDue("d-1", 1, "a" * 64, "compliance", "reminder", 1, T0.isoformat())
    )
    await deliverer.deliver()
    assert world.smtp.to("casey@clinic.example") == []  # gathered, not sent
    assert len(world.smtp.to("riley@clinic.example")) == 3  # digest off: one e-mail each
    assert len(await world.inbox(CASEY)) == 3  # the inbox is not held back

    world.clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # the hour is over
    await deliverer.deliver()
    await deliverer.deliver()
    [digest] = world.smtp.to("casey@clinic.example")
    assert digest["Subject"] == "[Clearpost] 3 review notifications"
    text = digest.get_content()
    assert text.count("Draft: d-1") == 2 and text.count("Draft: d-2") == 1 and "Reminder" in text


async def test_an_smtp_server_asking_for_a_password_gets_it(world: World) -> None:
    await world.person(CASEY)
    await world.open()
    with SmtpServer(username="clearpost", password="pw") as smtp:
        mailer = Mailer(
            SmtpSettings("127.0.0.1", smtp.port, "c@clinic.example", "clearpost", "pw", starttls=False)
        )
        deliverer = Deliverer(
            world.sessionmaker, public_url="https://x", mailer=mailer, http=world.http, clock=world.clock
        )
        await deliverer.deliver()
        assert [m["To"] for m in smtp.messages] == ["casey@clinic.example"]


async def test_a_refused_email_is_tried_again_after_its_backoff(world: World) -> None:
    await world.person(CASEY)
    await world.open()
    world.smtp.refusing = True
    deliverer = world.deliverer()
    await deliverer.deliver()
    [row] = await world.rows(EmailDelivery)
    assert isinstance(row, EmailDelivery) and row.status == "pending" and "451" in (row.last_error or "")
    world.smtp.refusing = False
    await deliverer.deliver()
    assert world.smtp.messages == []  # not before its backoff
    world.clock.now += timedelta(seconds=60)
    await deliverer.deliver()
    assert len(world.smtp.messages) == 1


async def test_webhooks_are_signed_retried_with_backoff_then_dead_lettered_and_replayed(world: World) -> None:
    await world.open()
    with WebhookReceiver(b"") as receiver:
        async with world.sessionmaker() as session, session.begin():
            svc = NotificationService(session, audit=world.audit, clock=world.clock)
            created = await svc.create_webhook(
                WebhookIn(url=receiver.endpoint, kinds=["review.requested"]), ADMIN
            )
            other = await svc.create_webhook(
                WebhookIn(url=receiver.endpoint, kinds=["draft.published"]), ADMIN
            )
        receiver.secret = created.secret.encode()
        for _ in range(3):
            receiver.answer_next(503)
        deliverer = world.deliverer(attempts=3)

        await deliverer.deliver()  # attempt 1 fails
        [row] = await world.rows(WebhookDelivery)
        assert isinstance(row, WebhookDelivery) and row.endpoint_id == created.id  # not `other`
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + timedelta(seconds=60))
        await deliverer.deliver()  # not due yet: nothing sent
        assert len(receiver.requests) == 1
        world.clock.now = T0 + timedelta(seconds=60)
        await deliverer.deliver()  # attempt 2 fails: next in 120 s
        world.clock.now += timedelta(seconds=120)
        await deliverer.deliver()  # attempt 3 fails: dead
        assert len(receiver.requests) == 3 and receiver.posts() == []
        async with world.sessionmaker() as session, session.begin():
            svc = NotificationService(session, audit=world.audit, clock=world.clock)
            [dead] = await svc.dead_letters()
            assert (dead.attempts, dead.last_error, dead.event.kind) == (3, "HTTP 503", "review.requested")
            await svc.replay(dead.id, ADMIN)

        await deliverer.deliver()
        [post] = receiver.posts()
        assert (
            post.signature_ok and post.json["kind"] == "review.requested" and post.json["draft_id"] == "d-1"
        )
        assert post.headers["x-clearpost-event"] == "review.requested"
        assert post.headers["idempotency-key"] == post.json["id"]
        async with world.sessionmaker() as session:
            svc = NotificationService(session, audit=world.audit, clock=world.clock)
            assert await svc.dead_letters() == []
    assert world.audit.actions() == [
        "notification.webhook_created",
        "notification.webhook_created",
        "notification.dead_letter_replayed",
    ]
    assert other.id != created.id


async def test_an_unreachable_receiver_is_retried_like_a_failing_one(world: World) -> None:
    await world.open()
    async with world.sessionmaker() as session, session.begin():
        svc = NotificationService(session, audit=world.audit, clock=world.clock)
        await svc.create_webhook(WebhookIn(url="http://127.0.0.1:9/hook", kinds=["review.requested"]), ADMIN)
    await world.deliverer(attempts=1).deliver()
    [row] = await world.rows(WebhookDelivery)
    assert (
        isinstance(row, WebhookDelivery) and row.status == "dead" and "ConnectError" in (row.last_error or "")
    )


async def test_post_events_from_the_workflows_go_to_the_author_this_service_knows(world: World) -> None:
    await world.open()
    approved = await world.activities.record_review_notice(
        NoticeDue("d-1", 1, "a" * 64, "", "approved", 7, T0.isoformat())
    )
    # A takedown names no version: the author of the draft's tasks of any version.
    taken_down = await world.activities.record_review_notice(
        NoticeDue("d-1", 0, "", "", "taken_down", 1, T0.isoformat(), "takedown")
    )
    assert approved.recipients == taken_down.recipients == [f"user:{AUTHOR.user_id}"]
    await world.deliverer().deliver()
    assert sorted(await world.inbox(AUTHOR)) == ["draft.approved", "draft.taken_down"]


class DyingMailer(Mailer):
    """The process is killed while the SMTP server is being talked to."""

    async def send(self, message: object) -> None:
        raise asyncio.CancelledError


async def test_an_email_a_dead_process_was_sending_is_sent_once_its_lease_ends(world: World) -> None:
    await world.person(CASEY)
    await world.open()
    dying = Deliverer(
        world.sessionmaker, public_url="https://x", http=world.http, clock=world.clock,
        mailer=DyingMailer(SmtpSettings("127.0.0.1", world.smtp.port, "c@clinic.example", starttls=False)),
    )  # fmt: skip
    with pytest.raises(asyncio.CancelledError):
        await dying.deliver()
    await world.deliverer().deliver()  # the next process: the row is still leased
    assert world.smtp.messages == []
    world.clock.now += LEASE
    await world.deliverer().deliver()
    assert [m["To"] for m in world.smtp.messages] == ["casey@clinic.example"]
