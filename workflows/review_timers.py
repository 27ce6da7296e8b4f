"""The timers of a review round, pure and clock-free: which reminders, escalations and the expiry
are due by `now`, and when the next one falls.

The workflow keeps the keys of the notices it has sent in its own state (rebuilt by replay), so a
worker restart sends nothing twice; the review service's outbox is keyed the same way, so a
retried activity records nothing twice either.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.contracts import ReviewSchedule

EXPIRED = "expired"


@dataclass(frozen=True)
class DueNotice:
    stage: str  # "" for the round's expiry
    kind: str  # reminder | escalation | expired (the timers); approved, published: AUTHOR_NOTICES
    n: int
    due_at: datetime

    @property
    def key(self) -> str:
        return f"{self.stage}:{self.kind}:{self.n}"


def expires_at(
    schedule: ReviewSchedule, opened_at: datetime, scheduled_at: datetime | None
) -> datetime | None:
    """When the round goes back to the author unapproved: `approval_expiry` after it opened, or the
    version's scheduled time if that comes first (only where the policy sets an expiry)."""
    if not schedule.approval_expiry_seconds:
        return None
    deadline = opened_at + timedelta(seconds=schedule.approval_expiry_seconds)
    return min(deadline, scheduled_at) if scheduled_at is not None else deadline


def sla_due(schedule: ReviewSchedule, stage: str, opened_at: datetime) -> datetime | None:
    timing = next((t for t in schedule.stages if t.stage == stage), None)
    if timing is None or not timing.sla_seconds:
        return None
    return opened_at + timedelta(seconds=timing.sla_seconds)


def round_notices(
    schedule: ReviewSchedule,
    opened_at: datetime,
    undecided: Collection[str],
    sent: Collection[str],
    expiry: datetime | None,
) -> list[DueNotice]:
    """Every notice of the round not yet sent, for the stages still waiting, earliest first."""
    notices: list[DueNotice] = []
    for timing in schedule.stages:
        if timing.stage not in undecided:
            continue
        for n, seconds in enumerate(timing.reminder_seconds, start=1):
            notices.append(DueNotice(timing.stage, "reminder", n, opened_at + timedelta(seconds=seconds)))
        if timing.sla_seconds and timing.escalates:
            notices.append(
                DueNotice(timing.stage, "escalation", 1, opened_at + timedelta(seconds=timing.sla_seconds))
            )
    if expiry is not None:
        notices.append(DueNotice("", EXPIRED, 1, expiry))
    return sorted((n for n in notices if n.key not in sent), key=lambda n: (n.due_at, n.key))


def due_by(notices: list[DueNotice], now: datetime) -> list[DueNotice]:
    return [n for n in notices if n.due_at <= now]


def next_due(notices: list[DueNotice], now: datetime) -> datetime | None:
    later = [n.due_at for n in notices if n.due_at > now]
    return min(later) if later else None
