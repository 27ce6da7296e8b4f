"""An adverse-event case's clocks from day 0 (pure): when each reminder and escalation is due.

Calendar time on purpose: the regulatory 15 days are calendar days, and a report read on a Friday
evening is due for hand-off on Saturday evening (docs/comments.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

from workflows.comment_contracts import (
    ESCALATION,
    HANDOFF_CLOCK,
    REGULATORY_CLOCK,
    REMINDER,
    CaseClock,
)


def plan_clocks(
    day0: datetime,
    *,
    handoff: timedelta,
    handoff_reminder_before: timedelta,
    regulatory_deadline: timedelta,
    regulatory_reminder_before: timedelta,
) -> list[CaseClock]:
    moments = [
        (HANDOFF_CLOCK, REMINDER, day0 + handoff - handoff_reminder_before),
        (HANDOFF_CLOCK, ESCALATION, day0 + handoff),
        (REGULATORY_CLOCK, REMINDER, day0 + regulatory_deadline - regulatory_reminder_before),
        (REGULATORY_CLOCK, ESCALATION, day0 + regulatory_deadline),
    ]
    moments.sort(key=lambda moment: moment[2])
    return [CaseClock(clock, kind, at.isoformat()) for clock, kind, at in moments]
