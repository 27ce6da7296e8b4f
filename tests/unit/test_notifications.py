"""Notifications: the event schema, webhook signatures, preferences and digests (pure), and the
deliverer over SQLite and PostgreSQL against a real SMTP server (aiosmtpd) and a real webhook
receiver: e-mail, inbox, retries with backoff, the dead letter, once per recipient and channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import OffboardedUser, ReviewNotice, Screening
from services.review.notifications.deliverer import LEASE, Deliverer, backoff
from services.review.notifications.events import EVENT_KINDS, KIND_OF_NOTICE, NotificationEvent, event_of
from services.review.notifications.mailer import Mailer, SmtpSettings
from services.review.notifications.models import EmailDelivery, InboxItem, WebhookDelivery
from services.review.notifications.preferences import channels_for, digest_due
from services.review.notifications.schemas import Preferences, WebhookIn
from services.review.notifications.service import NotificationService
from services.review.notifications.signing import signature, signed_headers, verify
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


# --- the schema, signatures, preferences (pure) -------------------------------------------------


def _notice(kind: str = "reminder", stage: str = "compliance") -> ReviewNotice:
    return ReviewNotice(
        id="n-1", key=f"d-1:1:{stage}:{kind}:2", draft_id="d-1", version=1, content_hash="a" * 64,
        stage=stage, kind=kind, n=2, recipients=["role:compliance"], reason="a reason stays here",
        due_at=T0, created_at=T0,
    )  # fmt: skip


def test_every_outbox_kind_is_an_event_of_the_schema() -> None:
    assert sorted(KIND_OF_NOTICE.values()) == sorted(EVENT_KINDS)
    for kind, event_kind in KIND_OF_NOTICE.items():
        assert event_of(_notice(kind), "https://clear.example/").kind == event_kind


def test_an_event_carries_ids_times_and_a_link_and_nothing_else() -> None:
    event = event_of(_notice(), "https://clear.example/")
    document = event.model_dump(mode="json")
    assert document == {
        "schema_version": 1,
        "id": "n-1",
        "kind": "review.reminder",
        "draft_id": "d-1",
        "version": 1,
        "stage": "compliance",
        "n": 2,
        "due_at": "2026-12-02T09:20:00Z",
        "created_at": "2026-12-02T09:20:00Z",
        "link": "https://clear.example/review/drafts/d-1",
    }
    assert NotificationEvent.model_validate(document) == event
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**document, "title": TITLE})
    with pytest.raises(ValidationError):
        NotificationEvent.model_validate({**document, "kind": "draft.deleted"})
    assert event_of(_notice("expired", stage=""), "https://x").stage is None


def test_an_unknown_outbox_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        event_of(_notice("gossip"), "https://x")


def test_signatures_are_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"id":"n-1"}'
    headers = {
        k.lower(): v for k, v in signed_headers("s3", 1_800_000_000, body, kind="k", event_id="n-1").items()
    }
    assert headers["x-clearpost-signature"] == signature("s3", 1_800_000_000, body)
    assert headers["x-clearpost-signature"].startswith("sha256=") and headers["idempotency-key"] == "n-1"
    assert verify("s3", headers, body, now=1_800_000_100)
    assert not verify("s3", headers, body + b" ", now=1_800_000_100)  # the body was changed
    assert not verify("other", headers, body, now=1_800_000_100)  # another secret
    assert not verify("s3", headers, body, now=1_800_000_000 + 301)  # too old: a replay
    assert not verify("s3", {**headers, "x-clearpost-timestamp": "soon"}, body, now=1_800_000_000)


def test_the_verification_recipe_in_the_docs_accepts_our_signatures_and_nothing_else() -> None:
    import re
    import time
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "review-policy.md").read_text()
    recipe = re.search(r"```python\n(.*?)```", doc[doc.index("### Webhooks for chat tools") :], re.S)
    assert recipe is not None
    scope: dict[str, object] = {}
    exec(recipe.group(1), scope)  # our own documentation, run as a receiver would copy it
    verify_doc = scope["verify"]
    assert callable(verify_doc)
    body = json.dumps(event_of(_notice(), "https://x").model_dump(mode="json")).encode()
    headers = signed_headers("whsec_x", int(time.time()), body, kind="review.reminder", event_id="n-1")
    assert verify_doc("whsec_x", headers, body)
    assert not verify_doc("whsec_x", headers, body.replace(b"n-1", b"n-2"))
    assert not verify_doc("whsec_y", headers, body)


def test_channels_default_to_both_and_follow_the_users_choice() -> None:
    assert channels_for({}, "review.reminder") == {"email", "inbox"}
    assert channels_for({"review.reminder": ["inbox"]}, "review.reminder") == {"inbox"}
    assert channels_for({"review.reminder": []}, "review.reminder") == set()
    assert channels_for({"review.reminder": []}, "review.requested") == {"email", "inbox"}


def test_a_digest_goes_out_at_the_end_of_its_hour_or_day() -> None:
    assert digest_due("off", T0) is None
    assert digest_due("hourly", T0) == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert digest_due("daily", T0) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(40, 30) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://chat.example/hook", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https:///nohost", "names a host"),
        ("https://user:pw@chat.example/hook", "no user name or password"),
        ("https://chat.example:port/hook", "the HTTP client can use"),
        ("https://chat example/hook", "no spaces"),
    ],
)
def test_a_webhook_url_is_http_or_https_to_a_host(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        WebhookIn(url=url, kinds=["review.reminder"])


def test_an_email_address_cannot_smuggle_a_header() -> None:
    assert Preferences(email="casey@clinic.example").email == "casey@clinic.example"
    for bad in ("casey@clinic.example\nBcc: all@x.org", "Casey <casey@clinic.example>", "casey"):
        with pytest.raises(ValidationError):
            Preferences(email=bad)


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
