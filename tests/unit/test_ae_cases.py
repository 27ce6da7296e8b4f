"""Adverse-event cases in the review service, on SQLite and PostgreSQL: a side-effect comment
screened (`kind: comment`) with its minimum elements, its case opened once with day 0 and the
clocks from the policy, reminders recorded once and never for a met clock, follow-ups, hand-off,
close with a reason, everything audited, and the exports (JSON, CIOMS-like PDF, CSV/JSON list)."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from services.kit.errors import Conflict, Unprocessable
from services.kit.tokens import Principal
from services.review.ae_case_export import case_document, case_pdf, cases_csv, cases_json
from services.review.ae_cases import PV_ROLE
from services.review.comment_activities import CommentActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import ReviewNotice
from services.review.notifications.deliverer import Deliverer
from services.review.notifications.mailer import Mailer, SmtpSettings
from services.review.notifications.models import InboxItem, WebhookDelivery
from services.review.notifications.schemas import Preferences, WebhookIn
from services.review.notifications.service import NotificationService
from services.review.policy import load_policy_file
from tests.smtp import SmtpServer
from tests.unit.recording_audit import RecordingAudit
from workflows.comment_contracts import (
    ESCALATION,
    HANDOFF_CLOCK,
    REGULATORY_CLOCK,
    REMINDER,
    AeCaseInput,
    CaseClockEvent,
    ScreenCommentInput,
)

pytest_plugins = ["tests.unit.comment_fixtures"]

READ_AT = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # a Friday evening
SIDE_EFFECT = "I started Cardiozen last month and my hair fell out, is that normal?"
PV = Principal(user_id="u-pv", username="pv@demo", name="Pat", roles=frozenset({PV_ROLE}))


class Ticking:
    """A clock a minute on at each reading, from day 0 (steps are ordered by their time)."""

    def __init__(self) -> None:
        self.now = READ_AT

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class FakeComments:
    def __init__(self, **texts: str) -> None:
        self.texts = texts
        self.reads: list[str] = []

    async def comment(self, comment_id: str) -> dict[str, Any]:
        self.reads.append(comment_id)
        return {
            "id": comment_id,
            "network": "facebook",
            "account": "riverside-fb",
            "draft_id": "d-1",
            "author": "Jordan Lee",
            "url": f"https://www.facebook.com/1?comment_id={comment_id}",
            "text": self.texts[comment_id],
            "read_at": READ_AT.isoformat(),
        }


@pytest.fixture(scope="module")
def activities_parts() -> tuple[Any, Any]:
    from services.review.screening.engine import Screener

    policy = load_policy_file(DEFAULT_POLICY_FILE)
    return policy, Screener(policy)


def activities(
    sessions: async_sessionmaker[AsyncSession],
    parts: tuple[Any, Any],
    comments: FakeComments,
    audit: RecordingAudit,
) -> CommentActivities:
    policy, screener = parts
    return CommentActivities(sessions, policy, comments, audit, screener=screener, clock=Ticking())


async def opened_case(
    sessions: async_sessionmaker[AsyncSession], parts: tuple[Any, Any], audit: RecordingAudit
) -> tuple[CommentActivities, str]:
    comments = FakeComments(c1=SIDE_EFFECT)
    acts = activities(sessions, parts, comments, audit)
    env = ActivityEnvironment()
    screened = await env.run(acts.screen_comment, ScreenCommentInput("c1"))
    again = await env.run(acts.screen_comment, ScreenCommentInput("c1"))
    assert again.screening_id == screened.screening_id and comments.reads == ["c1"]  # screened once
    assert "adverse_event" in screened.categories
    plan = await env.run(acts.open_ae_case, AeCaseInput("c1", screened.screening_id, READ_AT.isoformat()))
    replay = await env.run(acts.open_ae_case, AeCaseInput("c1", screened.screening_id, READ_AT.isoformat()))
    assert replay.case_id == plan.case_id  # opened once
    assert [(c.clock, c.kind, datetime.fromisoformat(c.at)) for c in plan.clocks] == [
        (HANDOFF_CLOCK, REMINDER, READ_AT + timedelta(hours=20)),
        (HANDOFF_CLOCK, ESCALATION, READ_AT + timedelta(hours=24)),
        (REGULATORY_CLOCK, REMINDER, READ_AT + timedelta(days=12)),
        (REGULATORY_CLOCK, ESCALATION, READ_AT + timedelta(days=15)),
    ]
    return acts, plan.case_id


async def test_a_side_effect_comment_opens_one_case_with_its_elements_and_clocks(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    audit = RecordingAudit()
    acts, case_id = await opened_case(review_sessions, activities_parts, audit)
    async with review_sessions() as session:
        case = await acts.cases(session).get(case_id)
        assert (case.day0, case.status, case.assigned_role) == (READ_AT, "open", PV_ROLE)
        assert case.handoff_due == READ_AT + timedelta(hours=24)
        assert case.regulatory_due == READ_AT + timedelta(days=15)
        assert case.elements["reporter"] == "Jordan Lee on facebook"
        assert case.elements["patient"] == "the reporter (first person)"
        assert "Cardiozen" in (case.elements["product"] or "")
        assert case.elements["event"] and case.missing == []
    assert audit.actions() == ["ae_case.opened"]


async def test_missing_elements_are_listed(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    comments = FakeComments(c2="Terrible headaches after taking ibuprofen, anyone else?")
    acts = activities(review_sessions, activities_parts, comments, RecordingAudit())
    env = ActivityEnvironment()
    screened = await env.run(acts.screen_comment, ScreenCommentInput("c2"))
    plan = await env.run(acts.open_ae_case, AeCaseInput("c2", screened.screening_id, READ_AT.isoformat()))
    async with review_sessions() as session:
        case = await acts.cases(session).get(plan.case_id)
    assert case.missing == ["patient"] and case.elements["product"] == "Ibuprofen"


async def test_a_comment_without_an_adverse_event_opens_no_case(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    acts = activities(
        review_sessions, activities_parts, FakeComments(c3="Great post, thanks!"), RecordingAudit()
    )
    env = ActivityEnvironment()
    screened = await env.run(acts.screen_comment, ScreenCommentInput("c3"))
    assert screened.categories == []
    with pytest.raises(Exception, match="no adverse event"):
        await env.run(acts.open_ae_case, AeCaseInput("c3", screened.screening_id, READ_AT.isoformat()))


async def test_clocks_steps_and_their_audit(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    audit = RecordingAudit()
    acts, case_id = await opened_case(review_sessions, activities_parts, audit)
    async with review_sessions() as session, session.begin():
        cases = acts.cases(session)
        assert await cases.clock_passed(case_id, HANDOFF_CLOCK, REMINDER)
        assert not await cases.clock_passed(case_id, HANDOFF_CLOCK, REMINDER)  # a retry: once
        await cases.follow_up(case_id, PV, "missing_information", "asked for a phone number")
        with pytest.raises(Unprocessable):
            await cases.follow_up(case_id, PV, "free text of my own", "")
        handed = await cases.hand_off(case_id, PV, "SAFETY-2026-0042")
        assert handed.status == "handed_off" and handed.handed_off_by == "u-pv"
        # The hand-off clock is met: its escalation is not recorded, the regulatory one still is.
        assert not await cases.clock_passed(case_id, HANDOFF_CLOCK, ESCALATION)
        assert await cases.clock_passed(case_id, REGULATORY_CLOCK, REMINDER)
        with pytest.raises(Unprocessable):
            await cases.close(case_id, PV, "  ")
        closed = await cases.close(case_id, PV, "reported to the safety database as SAFETY-2026-0042")
        assert closed.status == "closed"
        assert not await cases.clock_passed(case_id, REGULATORY_CLOCK, ESCALATION)
        with pytest.raises(Conflict):
            await cases.close(case_id, PV, "again")
        steps = [e.kind for e in await cases.events(case_id)]
    assert steps == ["opened", "reminder", "follow_up", "handed_off", "reminder", "closed"]
    assert audit.actions() == [
        "ae_case.opened",
        "ae_case.reminder",
        "ae_case.follow_up",
        "ae_case.handed_off",
        "ae_case.reminder",
        "ae_case.closed",
    ]
    assert audit.events[2]["details"]["template"] == "missing_information"


def pdf_text(document: bytes) -> str:
    """The text drawn in a PDF's (deflated) content streams."""
    chunks = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.DOTALL)
    text = []
    for chunk in chunks:
        try:
            text.append(zlib.decompress(chunk).decode("latin-1"))
        except zlib.error:
            text.append(chunk.decode("latin-1"))
    return "".join(re.findall(r"\((.*?)\)\s*Tj", "\n".join(text)))


async def test_the_case_exports(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    acts, case_id = await opened_case(review_sessions, activities_parts, RecordingAudit())
    async with review_sessions() as session, session.begin():
        cases = acts.cases(session)
        await cases.hand_off(case_id, PV, "=HYPERLINK(evil)")
        case = await cases.get(case_id)
        events = await cases.events(case_id)
        document = case_document(case, events, await cases.screening(case))
        pdf = case_pdf(case, events)
        listing = await cases.listing(status=None)
    assert document["minimum_elements"]["reporter"] == "Jordan Lee on facebook"
    assert document["day0"] == READ_AT.isoformat() and document["missing"] == []
    assert [s["kind"] for s in document["steps"]] == ["opened", "handed_off"]
    assert document["screening"]["categories"] and document["source"]["network"] == "facebook"
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "SUSPECT ADVERSE REACTION REPORT" in text and "Cardiozen" in text and "Jordan Lee" in text
    [row] = list(csv.DictReader(io.StringIO(cases_csv(listing))))
    assert row["case_id"] == case_id and row["status"] == "handed_off"
    assert row["handoff_reference"] == "'=HYPERLINK(evil)"  # no formula in the safety team's spreadsheet
    assert cases_json(listing)[0]["product"] == case.elements["product"]


COMPLIANCE = Principal(user_id="u-comp", username="casey", name="Casey", roles=frozenset({"compliance"}))
AUTHOR = Principal(user_id="u-author", username="avery", name="Avery", roles=frozenset({"author"}))


async def known(
    sessions: async_sessionmaker[AsyncSession], audit: RecordingAudit, *people: Principal
) -> None:
    """The users as the review service knows them once they signed in, each with an e-mail address."""
    async with sessions() as session, session.begin():
        service = NotificationService(session, audit=audit)
        for person in people:
            address = {"email": f"{person.username.partition('@')[0]}@clinic.example"}
            await service.set_preferences(person, Preferences.model_validate(address))


async def test_reminders_and_escalations_are_delivered_once_without_the_comment(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    audit = RecordingAudit()
    acts, case_id = await opened_case(review_sessions, activities_parts, audit)
    await known(review_sessions, audit, PV, COMPLIANCE, AUTHOR)
    admin = Principal(user_id="u-admin", username="ada", name="Ada", roles=frozenset({"admin"}))
    async with review_sessions() as session, session.begin():
        hooks = NotificationService(session, audit=audit)
        await hooks.create_webhook(
            WebhookIn(url="https://chat.example/hook", kinds=["ae_case.escalated"]), admin
        )
    env = ActivityEnvironment()
    await env.run(acts.record_case_clock, CaseClockEvent(case_id, HANDOFF_CLOCK, REMINDER))
    await env.run(acts.record_case_clock, CaseClockEvent(case_id, HANDOFF_CLOCK, REMINDER))  # a retry
    await env.run(acts.record_case_clock, CaseClockEvent(case_id, HANDOFF_CLOCK, ESCALATION))

    with SmtpServer() as smtp:
        async with httpx.AsyncClient() as http:
            mailer = Mailer(SmtpSettings("127.0.0.1", smtp.port, "clearpost@clinic.example", starttls=False))
            deliverer = Deliverer(
                review_sessions, public_url="https://clear.example", mailer=mailer, http=http
            )
            await deliverer.fan_out()
            await deliverer.send_emails()
            await deliverer.fan_out()  # a second pass delivers nothing again
            await deliverer.send_emails()

    async with review_sessions() as session:
        notices = (await session.scalars(select(ReviewNotice))).all()
        inbox = (await session.scalars(select(InboxItem))).all()
        hooked = (await session.scalars(select(WebhookDelivery))).all()
    assert sorted((n.kind, n.stage) for n in notices) == [
        ("case_escalation", HANDOFF_CLOCK),
        ("case_reminder", HANDOFF_CLOCK),
    ]
    assert all(n.delivered_at is not None for n in notices)
    assert sorted((i.recipient, i.event["kind"]) for i in inbox) == [
        ("u-comp", "ae_case.escalated"),
        ("u-pv", "ae_case.escalated"),
        ("u-pv", "ae_case.reminder"),
    ]
    reminder = next(i.event for i in inbox if i.event["kind"] == "ae_case.reminder")
    assert reminder["case_id"] == case_id and reminder["clock"] == HANDOFF_CLOCK
    assert reminder["due_at"] == "2026-11-28T18:30:00Z"  # 24 h after day 0
    assert reminder["link"] == f"https://clear.example/review/ae-cases/{case_id}"
    assert [h.event["kind"] for h in hooked] == ["ae_case.escalated"]
    assert sorted((m["To"], m["X-Clearpost-Event"]) for m in smtp.messages) == [
        ("casey@clinic.example", "ae_case.escalated"),
        ("pv@clinic.example", "ae_case.escalated"),
        ("pv@clinic.example", "ae_case.reminder"),
    ]
    # Nothing the comment said, nor who wrote it, goes out on any channel.
    sent = json.dumps([i.event for i in inbox] + [h.event for h in hooked]) + "".join(
        str(m) for m in smtp.messages
    )
    for said in ("hair", "Cardiozen", "Jordan Lee", "facebook.com"):
        assert said not in sent
    assert case_id in smtp.messages[0]["Subject"] + smtp.messages[1]["Subject"]


async def test_a_clock_already_met_sends_no_notice(
    review_sessions: async_sessionmaker[AsyncSession], activities_parts: tuple[Any, Any]
) -> None:
    audit = RecordingAudit()
    acts, case_id = await opened_case(review_sessions, activities_parts, audit)
    async with review_sessions() as session, session.begin():
        await acts.cases(session).hand_off(case_id, PV, "SAFETY-1")
    env = ActivityEnvironment()
    await env.run(acts.record_case_clock, CaseClockEvent(case_id, HANDOFF_CLOCK, REMINDER))
    await env.run(acts.record_case_clock, CaseClockEvent(case_id, REGULATORY_CLOCK, ESCALATION))
    async with review_sessions() as session:
        notices = (await session.scalars(select(ReviewNotice))).all()
    assert [(n.kind, n.stage, sorted(n.recipients)) for n in notices] == [
        ("case_escalation", REGULATORY_CLOCK, ["role:compliance", "role:pharmacovigilance"])
    ]
