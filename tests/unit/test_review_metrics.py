"""The review service's series on /metrics: the queue per stage from its tables, screening latency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.kit.metrics import load_metrics_token
from tests.database import DatabaseFactory
from tests.unit.screening_fixtures import AUTHOR, Api, review_api_under_review


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    body = "Walk-in flu vaccinations 9-12 at the Main St clinic."
    async with review_api_under_review(tmp_path, monkeypatch, database, title="Flu", body=body) as running:
        yield running


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    token = load_metrics_token(api.app.state.settings)
    response = await api.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_queue_depth_and_age_per_stage_come_from_the_open_tasks(api: Api) -> None:
    seen = await scrape(api)

    assert seen[("clearpost_review_queue_depth", (("stage", "compliance"),))] == 1
    assert seen[("clearpost_review_queue_depth", (("stage", "legal"),))] == 1
    assert seen[("clearpost_review_queue_depth", (("stage", "medical"),))] == 0
    assert seen[("clearpost_review_queue_oldest_age_seconds", (("stage", "compliance"),))] >= 0
    assert seen[("clearpost_review_queue_oldest_age_seconds", (("stage", "medical"),))] == 0
    assert seen[("clearpost_screening_duration_seconds_count", (("source", "workflow"),))] >= 1


async def test_screening_through_the_api_is_timed(api: Api) -> None:
    before = (await scrape(api)).get(("clearpost_screening_duration_seconds_count", (("source", "api"),)), 0)
    response = await api.http.post("/api/v1/screenings", json={"text": "Flu shots"}, headers=api.auth(AUTHOR))
    assert response.status_code == 200, response.text

    after = await scrape(api)

    assert after[("clearpost_screening_duration_seconds_count", (("source", "api"),))] == before + 1
