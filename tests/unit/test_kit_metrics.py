"""`/metrics` on every service: the scrape credential, route templates (never raw paths), and the
Temporal SDK's metrics forwarded from its buffer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetricKind,
)

from services.kit.metrics import METRICS_TOKEN_FILE, load_metrics_token
from services.kit.temporal_metrics import TemporalMetrics
from tests.unit.drafts_fixtures import DraftsApi, api

__all__ = ["api"]


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def scrape_headers(app: FastAPI) -> dict[str, str]:
    return {"Authorization": f"Bearer {load_metrics_token(app.state.settings)}"}


async def test_metrics_need_the_scrape_credential_not_a_user_token(api: DraftsApi, tmp_path: Path) -> None:
    anonymous = await api.http.get("/metrics")
    user = await api.http.get("/metrics", headers=api.as_user("admin"))

    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    assert user.status_code == 401
    scraped = await api.http.get("/metrics", headers=scrape_headers(api.app))
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert (tmp_path / "keys" / METRICS_TOKEN_FILE).stat().st_mode & 0o777 == 0o600


async def test_requests_are_counted_by_route_template_and_status(api: DraftsApi) -> None:
    draft = await api.create()
    for _ in range(2):
        assert (await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.as_user("author"))).is_success
    missing = await api.http.get("/api/v1/drafts/no-such-draft", headers=api.as_user("author"))
    assert missing.status_code == 404
    await api.http.get("/nowhere/at/all")

    text = (await api.http.get("/metrics", headers=scrape_headers(api.app))).text

    counts = {
        (labels["method"], labels["route"], labels["status"]): value
        for labels, value in samples(text, "clearpost_http_request_duration_seconds_count")
        if labels["service"] == "drafts"
    }
    assert counts[("GET", "/api/v1/drafts/{draft_id}", "200")] >= 2
    assert counts[("GET", "/api/v1/drafts/{draft_id}", "404")] >= 1
    assert counts[("POST", "/api/v1/drafts", "201")] >= 1
    assert counts[("GET", "unmatched", "404")] >= 1
    assert not any(draft["id"] in route for _, route, _ in counts), "raw paths never become labels"


@dataclass(frozen=True)
class FakeMetric:
    name: str
    kind: BufferedMetricKind
    unit: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class FakeUpdate:
    metric: FakeMetric
    value: float
    attributes: dict[str, str | bool]


class FakeBuffer:
    def __init__(self) -> None:
        self.pending: list[FakeUpdate] = []

    def retrieve_updates(self) -> list[FakeUpdate]:
        drained, self.pending = self.pending, []
        return drained


def test_temporal_sdk_updates_become_prometheus_series() -> None:
    buffer = FakeBuffer()
    collector = TemporalMetrics(buffer)  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(collector)
    queue: dict[str, str | bool] = {
        "service_name": "temporal-core-sdk",
        "task_queue": "clearpost-review",
        "eager": True,
    }
    latency = FakeMetric("temporal_activity_schedule_to_start_latency", BUFFERED_METRIC_KIND_HISTOGRAM, "s")
    polls = FakeMetric("temporal_long_request", BUFFERED_METRIC_KIND_COUNTER)
    buffer.pending = [FakeUpdate(latency, 0.02, queue), FakeUpdate(latency, 7.0, queue)]
    buffer.pending += [FakeUpdate(polls, 1, queue), FakeUpdate(polls, 2, queue)]

    text = generate_latest(registry).decode()

    labels = {"task_queue": "clearpost-review", "eager": "true"}
    assert samples(text, "temporal_long_request_total") == [(labels, 3.0)]
    assert samples(text, "temporal_activity_schedule_to_start_latency_seconds_count") == [(labels, 2.0)]
    buckets = dict(
        (labels_["le"], value)
        for labels_, value in samples(text, "temporal_activity_schedule_to_start_latency_seconds_bucket")
    )
    assert buckets["0.025"] == 1 and buckets["5.0"] == 1 and buckets["10.0"] == 2 and buckets["+Inf"] == 2
    buffer.pending = [FakeUpdate(polls, 1, queue)]
    assert samples(generate_latest(registry).decode(), "temporal_long_request_total") == [(labels, 4.0)]
