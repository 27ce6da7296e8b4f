"""The organization's working calendar, for SLAs and reminders that count business time.

A policy may say when the organization works (`business_hours`: a time zone, working days, the
working hours of a day, holidays); a stage with `clock: business` counts its `sla` and
`reminders` in that time only. `24h` of business time at 9:00-17:00 on weekdays is three working
days: a round opened on Friday at 16:00 is due on Wednesday at 16:00 (one hour on Friday, eight
on Monday and on Tuesday, seven on Wednesday). Time is counted in the calendar's zone, so a
daylight-saving change moves nothing: a working day is its working hours, whatever the clock did.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
# Far enough for any SLA a policy accepts; a calendar that never works is refused when loaded.
MAX_DAYS_SEARCHED = 3660


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    days: list[str] = Field(default_factory=lambda: list(DAYS[:5]), min_length=1)
    hours: str = "09:00-17:00"
    holidays: list[date] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name, like America/Chicago)") from exc
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in DAYS]
        if unknown:
            raise ValueError(f"working days are {', '.join(DAYS)}; got {', '.join(unknown)}")
        if len(set(value)) != len(value):
            raise ValueError("a working day is listed twice")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        match = _HOURS.match(value)
        if match is None:
            raise ValueError(f"working hours are HH:MM-HH:MM (09:00-17:00); got {value!r}")
        start, end = _minutes(match.group(1), match.group(2)), _minutes(match.group(3), match.group(4))
        if end > 24 * 60 or start >= end:
            raise ValueError(f"working hours must start before they end; got {value!r}")
        return value

    @model_validator(mode="after")
    def _holidays_once(self) -> BusinessHours:
        if len(set(self.holidays)) != len(self.holidays):
            raise ValueError("a holiday is listed twice")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working hours of `day` (aware, in the calendar's zone), or None on a day off."""
        if DAYS[day.weekday()] not in self.days or day in self.holidays:
            return None
        match = _HOURS.match(self.hours)
        assert match is not None  # validated
        start = datetime.combine(day, time(int(match.group(1)), int(match.group(2))), tzinfo=self.zone)
        end_minutes = _minutes(match.group(3), match.group(4))
        end = datetime.combine(day, time(0), tzinfo=self.zone) + timedelta(minutes=end_minutes)
        return start, end

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (UTC)."""
        left = duration
        moment = start.astimezone(self.zone)
        day = moment.date()
        for _ in range(MAX_DAYS_SEARCHED):
            window = self._window(day)
            if window is not None:
                opens, closes = window
                begin = max(moment, opens)
                if begin < closes:
                    available = closes - begin
                    if left <= available:
                        return (begin + left).astimezone(UTC)
                    left -= available
            day += timedelta(days=1)
            moment = datetime.combine(day, time(0), tzinfo=self.zone)
        raise ValueError("the business calendar has no working time in the next ten years")

    def offset_seconds(self, start: datetime, duration: timedelta) -> int:
        """How many wall-clock seconds after `start` that much working time has passed."""
        return int((self.add(start, duration) - start).total_seconds())


def _minutes(hours: str, minutes: str) -> int:
    return int(hours) * 60 + int(minutes)
