"""The review service's own series on /metrics: screening latency, the queue per stage, time in review.

The queue's depth and the age of its oldest task are read from the review tasks table at each scrape
(whichever process opened or closed the tasks); the screening and decision histograms count what this
process did.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import Gauge, Histogram

from services.kit.clock import utcnow
from services.kit.db import session_scope
from services.review.repository import ReviewRepository

SCREENING_SECONDS = Histogram(
    "clearpost_screening_duration_seconds",
    "One screener call: `workflow` screens a submitted version, `api` is POST /api/v1/screenings.",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REVIEW_QUEUE_DEPTH = Gauge(
    "clearpost_review_queue_depth", "Open review tasks waiting for a decision, per stage.", ["stage"]
)
REVIEW_QUEUE_OLDEST_SECONDS = Gauge(
    "clearpost_review_queue_oldest_age_seconds",
    "How long the oldest open review task of the stage has waited (0 when none is open).",
    ["stage"],
)
REVIEW_TASK_SECONDS = Histogram(
    "clearpost_review_time_to_decision_seconds",
    "Time in review: from a stage's task opening to its decision, per stage and decision.",
    ["stage", "decision"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
)


async def refresh_queue_gauges(app: FastAPI) -> None:
    """Set the queue gauges from the review tasks table (run before each scrape)."""
    async with session_scope(app.state.sessionmaker) as session:
        waiting = await ReviewRepository(session).open_tasks_by_stage()
    now = utcnow()
    stages = set(app.state.policy.policy.stages) | set(waiting)
    for stage in stages:
        count, oldest = waiting.get(stage, (0, None))
        REVIEW_QUEUE_DEPTH.labels(stage).set(count)
        REVIEW_QUEUE_OLDEST_SECONDS.labels(stage).set((now - oldest).total_seconds() if oldest else 0.0)
