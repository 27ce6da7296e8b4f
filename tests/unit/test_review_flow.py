"""The review flow report: per stage and per ISO week, what waits, how long decisions take, SLA
breaches and escalations; the API route and the UI page that show it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from services.review.config import DEFAULT_POLICY_FILE
from services.review.flow_report import Escalation, TaskSpan, percentile, week_starts, weekly_flow
from services.review.models import ReviewNotice, ReviewTask
from services.review.policy import parse_policy
from services.review.schemas import FlowWeek
from services.review.service import ReviewService
from services.review.ui.flow_pages import bar_chart
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday of ISO week 49
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def at(days: float, hours: float = 0) -> datetime:
    """A moment relative to this week's Monday 00:00."""
    return MONDAY + timedelta(days=days, hours=hours)


def test_weeks_are_iso_weeks_oldest_first_this_one_last() -> None:
    assert week_starts(NOW, 3) == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([7.0], 0.9) == 7.0


def test_a_week_counts_waiting_decisions_times_breaches_and_escalations() -> None:
    tasks = [
        # decided last week after 10 h, within its SLA
        TaskSpan("legal", "decided", at(-5), at(-5, 10), at(-4)),
        # opened last week, due last Sunday, decided this Monday after 50 h: last week's breach
        # (when the SLA passed), this week's decision
        TaskSpan("legal", "decided", at(-2), at(-2, 50), at(-1)),
        # still open, due this Tuesday: waiting now, a breach this week
        TaskSpan("legal", "open", at(-1), None, at(1)),
        # withdrawn before its due time: neither a decision nor a breach
        TaskSpan("legal", "closed", at(0, 1), at(0, 2), at(1, 1)),
        # another stage
        TaskSpan("medical", "decided", at(0), at(0, 4), None),
    ]
    escalations = [Escalation("legal", at(1, 2)), Escalation("legal", at(-3))]

    flows = weekly_flow(tasks, escalations, ["compliance", "legal"], week_starts(NOW, 2), NOW)

    assert [f.stage for f in flows] == ["compliance", "legal", "medical"]
    compliance, legal, medical = flows
    assert all(w.waiting == w.decided == w.breaches == w.escalations == 0 for w in compliance.weeks)
    last, this = legal.weeks
    assert (last.week, this.week) == ("2026-W48", "2026-W49")
    assert (last.waiting, last.decided, last.median_hours, last.breaches, last.escalations) == (
        2,
        1,
        10.0,
        1,
        1,
    )
    assert (this.waiting, this.decided, this.median_hours, this.p90_hours) == (1, 1, 50.0, 50.0)
    assert (this.breaches, this.escalations) == (1, 1)
    assert medical.weeks[1].decided == 1 and medical.weeks[1].median_hours == 4.0


def test_a_chart_draws_one_bar_per_week_and_series_scaled_to_the_largest() -> None:
    weeks = [
        FlowWeek(week=f"2026-W{n}", starts=date(2026, 11, 2), waiting=w, decided=0, median_hours=m,
                 p90_hours=None, breaches=0, escalations=0)
        for n, w, m in ((47, 2, 1.5), (48, 4, None), (49, 1, 3.0))
    ]  # fmt: skip
    waiting = bar_chart("Waiting", weeks, {"waiting": "waiting"}, "")
    assert [b.label for b in waiting.bars] == [
        "2026-W47: waiting 2",
        "2026-W48: waiting 4",
        "2026-W49: waiting 1",
    ]
    tallest = max(waiting.bars, key=lambda b: b.height)
    assert tallest.label.endswith("4") and waiting.top_label == "4"
    assert waiting.bars[0].height == pytest.approx(tallest.height / 2)
    hours = bar_chart("Hours", weeks, {"median_hours": "median"}, " h")
    assert [b.label for b in hours.bars] == [
        "2026-W47: median 1.5 h",
        "2026-W49: median 3.0 h",
    ]  # none: no bar


@pytest.fixture
async def sessions(database: DatabaseFactory) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_the_service_reports_from_its_own_tasks_and_notices(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        for n, (opened, closed, status) in enumerate(
            [
                (now - timedelta(hours=30), now - timedelta(hours=6), "decided"),
                (now - timedelta(hours=3), None, "open"),
            ]
        ):
            session.add(
                ReviewTask(
                    id=f"t-{n}", draft_id=f"d-{n}", version=1, content_hash="a" * 64, stage="compliance",
                    roles=["compliance"], author_id="author", policy_version="p", screening_id="s",
                    status=status, opened_at=opened, closed_at=closed, due_at=opened + timedelta(hours=1),
                )
            )  # fmt: skip
        session.add(
            ReviewNotice(
                id="n-1", key="d-1:1:compliance:escalation:1", draft_id="d-1", version=1,
                content_hash="a" * 64, stage="compliance", kind="escalation", n=1,
                recipients=["role:admin"], reason="sla passed",
                due_at=now - timedelta(hours=2), created_at=now - timedelta(hours=2),
            )
        )  # fmt: skip
    policy = parse_policy(yaml.safe_load(DEFAULT_POLICY_FILE.read_text()))
    async with sessions() as session:
        report = await ReviewService(session, policy=policy, audit=RecordingAudit()).flow(2)  # type: ignore[arg-type]

    assert len(report.weeks) == 2
    compliance = next(s for s in report.stages if s.stage == "compliance")
    total = {
        name: sum(getattr(w, name) for w in compliance.weeks)
        for name in ("decided", "breaches", "escalations")
    }
    assert total == {"decided": 1, "breaches": 2, "escalations": 1}
    assert compliance.weeks[-1].waiting == 1
    assert [w.median_hours for w in compliance.weeks if w.decided] == [pytest.approx(24.0)]
