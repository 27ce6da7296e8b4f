"""The review flow page (/review/flow): per stage and per week, what waits, how long decisions take,
SLA breaches and escalations, as charts drawn on the server (SVG, no script) with the same figures
in a table beside each (services/review/flow_report.py computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.kit.errors import Forbidden
from services.review.deps import ReviewServiceDep
from services.review.flow_report import FLOW_ROLES, MAX_WEEKS
from services.review.schemas import FlowWeek
from services.review.ui.deps import SignedInDep, UiRoute
from services.review.ui.render import page

router = APIRouter(tags=["review-ui"], include_in_schema=False, route_class=UiRoute)

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 360, 150, 34, 22, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # a CSS class: waiting, median, p90, breaches, escalations
    label: str  # what a screen reader and the tooltip say: "2026-W49: 3 waiting"


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    top_label: str  # the value at the top of the axis
    weeks: list[tuple[float, str]]  # (x, "W49") under the bars
    legend: list[tuple[str, str]]  # (series, name)


def bar_chart(title: str, weeks: Sequence[FlowWeek], series: dict[str, str], unit: str) -> Chart:
    """Grouped bars, one group per week, one bar per series (attribute of FlowWeek -> its name)."""
    values = {name: [getattr(w, name) for w in weeks] for name in series}
    top = max([v for vs in values.values() for v in vs if v is not None] + [0])
    scale = top or 1
    plot_width, plot_height = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    group = plot_width / max(1, len(weeks))
    width = max(2.0, (group - 4) / max(1, len(series)))
    bars: list[Bar] = []
    for i, week in enumerate(weeks):
        for j, name in enumerate(series):
            value = values[name][i]
            if value is None:
                continue
            height = plot_height * value / scale
            shown = f"{value:.1f}" if isinstance(value, float) else str(value)
            bars.append(
                Bar(
                    x=round(LEFT + i * group + 2 + j * width, 2),
                    y=round(TOP + plot_height - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    series=name,
                    label=f"{week.week}: {series[name]} {shown}{unit}",
                )
            )
    ticks = [(round(LEFT + i * group + group / 2, 2), w.week.split("-")[1]) for i, w in enumerate(weeks)]
    top_label = (f"{top:.1f}" if isinstance(top, float) else str(top)) + unit
    return Chart(title, WIDTH, HEIGHT, bars, top_label, ticks, list(series.items()))


@router.get("/flow")
async def flow(
    request: Request,
    signed: SignedInDep,
    review: ReviewServiceDep,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS)] = 8,
) -> Response:
    if not signed.principal.has_any(*FLOW_ROLES):
        raise Forbidden("the review flow is for reviewers, auditors and admins")
    report = await review.flow(weeks)
    stages = [
        {
            "stage": s.stage,
            "weeks": s.weeks,
            "charts": [
                bar_chart("Waiting at the end of the week", s.weeks, {"waiting": "waiting"}, ""),
                bar_chart(
                    "Hours from opening to decision",
                    s.weeks,
                    {"median_hours": "median", "p90_hours": "p90"},
                    " h",
                ),
                bar_chart(
                    "SLA breaches and escalations",
                    s.weeks,
                    {"breaches": "breaches", "escalations": "escalations"},
                    "",
                ),
            ],
        }
        for s in report.stages
    ]
    return page(request, "flow.html", {"report": report, "stages": stages, "weeks_shown": weeks})
