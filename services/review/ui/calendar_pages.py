"""The content calendar, for staff: what is scheduled (or held by a pause) and what went live, on which
networks, day by day over a week (`?week=YYYY-Www`) or from a day (`?start=YYYY-MM-DD&days=N`), with
status; and the live posts whose approved lifetime ends within 30 days.

Scheduled posts come from the drafts API (the drafts in status scheduled or held, with their
`scheduled_at`), live ones from the publisher's `GET /api/v1/live-posts`, each with its publications
(network and public URL). All times are UTC, as the forms say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.kit.clock import utcnow
from services.kit.errors import ClearpostError, Forbidden, Unprocessable
from services.review.ui.deps import SignedInDep, UiRoute, UiState, UiStateDep
from services.review.ui.render import STAFF_ROLES, page
from services.review.ui.sessions import SignedIn

# Included in the UI's router (endpoints.py), which puts these paths under /review.
router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

SCHEDULED = ("scheduled", "held")
EXPIRING_WITHIN_DAYS = 30


@dataclass
class Entry:
    """One post on one day: scheduled (or held) to go out then, or gone live then."""

    at: datetime
    kind: str  # scheduled | live
    draft_id: str
    title: str
    status: str
    channels: list[str] = field(default_factory=list)
    publications: list[dict[str, Any]] = field(default_factory=list)
    expires_at: datetime | None = None


@dataclass
class Day:
    day: date
    entries: list[Entry] = field(default_factory=list)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def period(week: str, start: str, days: int, today: date) -> tuple[date, int]:
    """The first day and the number of days shown: an ISO week, `days` from `start`, or this week."""
    try:
        if week:
            year, number = week.split("-W")
            return date.fromisocalendar(int(year), int(number), 1), 7
        if start:
            return date.fromisoformat(start), days
    except ValueError as exc:
        raise Unprocessable("the week is YYYY-Www (say 2026-W49) and the start a date, YYYY-MM-DD") from exc
    return today - timedelta(days=today.weekday()), 7


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def by_day(first: date, days: int, entries: list[Entry]) -> list[Day]:
    shown = [Day(first + timedelta(days=n)) for n in range(days)]
    for entry in sorted(entries, key=lambda e: e.at):
        index = (entry.at.astimezone(UTC).date() - first).days
        if 0 <= index < days:
            shown[index].entries.append(entry)
    return shown


async def _scheduled(
    ui: UiState, token: str, drafts: list[dict[str, Any]]
) -> tuple[list[Entry], list[dict[str, Any]]]:
    """Scheduled and held drafts with their time; the held ones without a time come second."""
    entries, untimed = [], []
    for summary in drafts:
        if summary["status"] not in SCHEDULED:
            continue
        # The list's summaries do not carry the time (yet); the draft itself does.
        if "scheduled_at" in summary:
            moment = _when(summary["scheduled_at"])
        else:
            try:
                moment = _when((await ui.user_api.draft(token, summary["id"])).get("scheduled_at"))
            except ClearpostError:
                moment = None
        if moment is None:
            untimed.append(summary)
            continue
        entries.append(
            Entry(
                moment, "scheduled", summary["id"], summary["title"], summary["status"], summary["channels"]
            )
        )
    return entries, untimed


async def _live(ui: UiState, token: str, posts: list[dict[str, Any]], titles: dict[str, str]) -> list[Entry]:
    entries = []
    for post in posts:
        try:
            publications = await ui.user_api.publications(token, post["draft_id"])
        except ClearpostError:
            publications = []
        entries.append(
            Entry(
                _when(post["published_at"]) or utcnow(),
                "live",
                post["draft_id"],
                titles.get(post["draft_id"], post["draft_id"]),
                post["status"],
                publications=publications,
                expires_at=_when(post.get("expires_at")),
            )
        )
    return entries


async def _calendar(ui: UiState, signed: SignedIn, first: date, days: int) -> dict[str, Any]:
    token, errors = signed.token, []
    try:
        drafts = await ui.user_api.drafts(token)
    except ClearpostError as exc:
        drafts, errors = [], [f"Scheduled posts are not available: {exc.detail}"]
    titles = {d["id"]: d["title"] for d in drafts}
    scheduled, untimed = await _scheduled(ui, token, drafts)
    start = datetime.combine(first, time(0), tzinfo=UTC)
    try:
        posts = await ui.user_api.live_posts(token, start=start, end=start + timedelta(days=days))
        expiring = await ui.user_api.live_posts(token, expiring_within_days=EXPIRING_WITHIN_DAYS)
    except ClearpostError as exc:
        posts, expiring = [], []
        errors.append(f"Live posts are not available: {exc.detail}")
    live = await _live(ui, token, posts, titles)
    return {
        "days": by_day(first, days, scheduled + live),
        "untimed": untimed,
        "expiring": [
            {**p, "title": titles.get(p["draft_id"], p["draft_id"]), "expires": _when(p.get("expires_at"))}
            for p in expiring
        ],
        "errors": errors,
    }


@router.get("/calendar")
async def calendar(
    request: Request,
    signed: SignedInDep,
    ui: UiStateDep,
    week: Annotated[str, Query(max_length=8)] = "",
    start: Annotated[str, Query(max_length=10)] = "",
    days: Annotated[int, Query(ge=1, le=31)] = 7,
) -> Response:
    if not signed.principal.has_any(*STAFF_ROLES):
        raise Forbidden("the calendar is for reviewing, publishing and admin staff")
    today = utcnow().date()
    first, count = period(week, start, days, today)
    last = first + timedelta(days=count - 1)
    return page(
        request,
        "calendar.html",
        {
            **await _calendar(ui, signed, first, count),
            "first": first,
            "last": last,
            "count": count,
            "week": week_of(first),
            "previous": (first - timedelta(days=count)).isoformat(),
            "next": (first + timedelta(days=count)).isoformat(),
            "this_week": week_of(today),
            "today": today,
            "expiring_days": EXPIRING_WITHIN_DAYS,
        },
    )
