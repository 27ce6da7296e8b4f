"""SLAs and reminders in business time: the organization's calendar (zone, working days, hours,
holidays) and a stage with `clock: business`."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.review.business_hours import BusinessHours
from services.review.config import DEFAULT_POLICY_FILE
from services.review.policy import PolicyError, parse_policy

CHICAGO = ZoneInfo("America/Chicago")
OFFICE = BusinessHours(timezone="America/Chicago", hours="09:00-17:00", holidays=[date(2026, 12, 25)])


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (local(2026, 12, 4, 16), 24, local(2026, 12, 9, 16)),  # Friday 16:00: 1 + 8 + 8 + 7 hours
        (local(2026, 12, 7, 7), 2, local(2026, 12, 7, 11)),  # before opening: counted from 09:00
        (local(2026, 12, 7, 18), 1, local(2026, 12, 8, 10)),  # after closing: the next morning
        (local(2026, 12, 24, 16), 2, local(2026, 12, 28, 10)),  # the holiday and the weekend skipped
        (local(2026, 12, 7, 9), 8, local(2026, 12, 7, 17)),  # exactly one working day
    ],
)
def test_working_time_is_added_over_days_off_and_outside_hours(
    start: datetime, hours: int, due: datetime
) -> None:
    assert OFFICE.add(start, timedelta(hours=hours)) == due.astimezone(UTC)


def test_a_daylight_saving_change_moves_no_working_hour() -> None:
    # Chicago leaves daylight saving on Sunday 2026-11-01: Friday 16:00 CDT + 8 working hours is
    # Monday 16:00 CST, 3 days and 1 hour of wall-clock time later.
    start = local(2026, 10, 30, 16)
    assert OFFICE.add(start, timedelta(hours=8)) == local(2026, 11, 2, 16).astimezone(UTC)
    assert OFFICE.offset_seconds(start, timedelta(hours=8)) == (3 * 24 + 1) * 3600


def test_a_calendar_that_works_all_the_time_is_wall_clock_time() -> None:
    always = BusinessHours(
        timezone="UTC", days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], hours="00:00-24:00"
    )
    start = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
    assert always.add(start, timedelta(hours=50)) == start + timedelta(hours=50)


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "UTC", "hours": "17:00-09:00"}, "working hours must start before they end"),
        ({"timezone": "UTC", "hours": "9-17"}, "working hours are HH:MM-HH:MM"),
        ({"timezone": "UTC", "days": ["mon", "funday"]}, "got funday"),
        ({"timezone": "UTC", "days": []}, "at least 1 item"),
        ({"timezone": "UTC", "holidays": ["2026-12-25", "2026-12-25"]}, "a holiday is listed twice"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_problem(calendar: dict[str, Any], message: str) -> None:
    document = _policy(calendar)
    with pytest.raises(PolicyError, match=message):
        parse_policy(document)


def _policy(calendar: dict[str, Any] | None) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(yaml.safe_load(DEFAULT_POLICY_FILE.read_text()))
    if calendar is not None:
        document["business_hours"] = calendar
    document["stages"]["compliance"].update(sla="16h", reminders=["4h"], clock="business")
    document["stages"]["legal"].update(sla="48h")
    return document


def test_a_business_clock_needs_the_calendar() -> None:
    with pytest.raises(PolicyError, match="compliance count business time: the policy needs business_hours"):
        parse_policy(_policy(None))


def test_the_round_schedule_and_the_due_time_count_the_stages_own_clock() -> None:
    policy = parse_policy(_policy({"timezone": "America/Chicago", "hours": "09:00-17:00"}))
    stages = policy.required_stages(
        product_mentioned=True, patient_content=False, categories=["fda_fair_balance"]
    )
    opened = local(2026, 12, 4, 16).astimezone(UTC)  # a Friday, one working hour left

    schedule = {t.stage: t for t in policy.schedule(stages, opened).stages}

    # compliance: 16 working hours = Friday 1 h, Monday 8 h, Tuesday 7 h -> Tuesday 16:00
    assert opened + timedelta(seconds=schedule["compliance"].sla_seconds) == local(2026, 12, 8, 16)
    # its 4 h reminder: Friday 1 h + Monday 3 h -> Monday 12:00
    assert opened + timedelta(seconds=schedule["compliance"].reminder_seconds[0]) == local(2026, 12, 7, 12)
    assert schedule["legal"].sla_seconds == 48 * 3600  # a wall-clock stage is unchanged
    assert policy.due_at("compliance", opened) == local(2026, 12, 8, 16)
    assert policy.due_at("medical", opened) is None
