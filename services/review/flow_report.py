"""How review flows, per stage and per week: what waits, how long a decision takes, SLA breaches and
escalations (`GET /api/v1/reviews/flow`, the review UI's /review/flow charts).

Read from the review service's own tables: each review task's `opened_at`, `closed_at`, `due_at`
and status, and the escalation notices of the outbox. Weeks are ISO weeks (Monday 00:00 UTC), the
current one counted up to now.

- waiting: tasks open at the end of the week (or now, for this week);
- decided: tasks decided in the week (a decision closed them; a withdrawn or expired round is not a
  decision and is left out of the times);
- median / p90 hours: the time from the round opening to that decision, of the tasks decided that
  week (nearest-rank percentile);
- breaches: tasks whose SLA passed in the week while still undecided (decided after their due
  time, or not decided yet);
- escalations: escalation notices raised in the week.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

MAX_WEEKS = 52
# Who may see it (the API route and the review UI's page).
FLOW_ROLES = ("admin", "auditor", "compliance", "legal", "medical")


@dataclass(frozen=True)
class TaskSpan:
    stage: str
    status: str  # open | decided | closed
    opened_at: datetime
    closed_at: datetime | None
    due_at: datetime | None


@dataclass(frozen=True)
class Escalation:
    stage: str
    at: datetime


@dataclass(frozen=True)
class StageWeek:
    week: str  # ISO week, e.g. 2026-W49
    starts: date
    waiting: int
    decided: int
    median_hours: float | None
    p90_hours: float | None
    breaches: int
    escalations: int


@dataclass(frozen=True)
class StageFlow:
    stage: str
    weeks: list[StageWeek]


def week_starts(now: datetime, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` ISO weeks, oldest first, this week last."""
    this_monday = now.date() - timedelta(days=now.weekday())
    return [this_monday - timedelta(weeks=n) for n in reversed(range(weeks))]


def _at(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (0 < fraction <= 1) of `values`, or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def weekly_flow(
    tasks: Sequence[TaskSpan],
    escalations: Sequence[Escalation],
    stages: Sequence[str],
    starts: Sequence[date],
    now: datetime,
) -> list[StageFlow]:
    """Per stage (in `stages` order, then any other stage that has tasks), one row per week."""
    known = list(stages) + sorted({t.stage for t in tasks} - set(stages))
    flows: list[StageFlow] = []
    for stage in known:
        mine = [t for t in tasks if t.stage == stage]
        raised = [e.at for e in escalations if e.stage == stage]
        rows: list[StageWeek] = []
        for monday in starts:
            start, end = _at(monday), min(_at(monday + timedelta(weeks=1)), now)
            decided = [
                t
                for t in mine
                if t.status == "decided" and t.closed_at is not None and start <= t.closed_at < end
            ]
            hours = [(t.closed_at - t.opened_at).total_seconds() / 3600 for t in decided if t.closed_at]
            rows.append(
                StageWeek(
                    week=f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",
                    starts=monday,
                    waiting=sum(
                        1 for t in mine if t.opened_at < end and (t.closed_at is None or t.closed_at >= end)
                    ),
                    decided=len(decided),
                    median_hours=percentile(hours, 0.5),
                    p90_hours=percentile(hours, 0.9),
                    breaches=sum(
                        1
                        for t in mine
                        if t.due_at is not None
                        and start <= t.due_at < end
                        and (t.closed_at is None or t.closed_at > t.due_at)
                    ),
                    escalations=sum(1 for at in raised if start <= at < end),
                )
            )
        flows.append(StageFlow(stage=stage, weeks=rows))
    return flows
