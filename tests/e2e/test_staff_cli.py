"""The staff CLI against the running system, as a person scripts it: sign in, write, submit, follow,
and the reviewer's queue; then the review service's /metrics as Prometheus scrapes it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.kit.metrics import load_metrics_token
from services.kit.settings import KitSettings
from tests.conftest import REPO_ROOT
from tests.e2e.spine_fixtures import BALANCED_BODY
from tests.system import DEMO_PASSWORD, RunningSystem

pytestmark = pytest.mark.e2e


def clearpost(
    system: RunningSystem, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=system.env,
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_draft_from_the_command_line_reaches_the_reviewers_queue(
    system: RunningSystem, tmp_path: Path
) -> None:
    author, reviewer = tmp_path / "author-token", tmp_path / "reviewer-token"
    for who, token in (("author@demo", author), ("compliance@demo", reviewer)):
        signed_in = clearpost(
            system, "login", "-u", who, "--token-file", str(token), stdin=f"{DEMO_PASSWORD}\n"
        )
        assert signed_in.returncode == 0, signed_in.stderr
    body = tmp_path / "post.txt"
    body.write_text(BALANCED_BODY)

    created = clearpost(
        system, "drafts", "create", "--title", "Heart health month", "--body-file", str(body),
        "--channel", "sandbox", "--token-file", str(author),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    draft_id = created.stdout.strip()
    submitted = clearpost(system, "drafts", "submit", draft_id, "--token-file", str(author))
    assert submitted.returncode == 0, submitted.stderr

    deadline, lines = time.monotonic() + 90, [""]
    while time.monotonic() < deadline and "in_review" not in lines[0]:
        time.sleep(0.5)
        lines = clearpost(
            system, "drafts", "status", draft_id, "--token-file", str(author)
        ).stdout.splitlines()
    status = "\n".join(lines)
    assert "in_review" in lines[0], status
    assert "  compliance: pending" in lines and "  legal: pending" in lines

    queue = clearpost(system, "reviews", "queue", "--token-file", str(reviewer))
    assert queue.returncode == 0, queue.stderr
    assert any(line.split()[:3] == [draft_id, "1", "compliance"] for line in queue.stdout.splitlines())
    refused = clearpost(system, "drafts", "status", "no-such-draft", "--token-file", str(reviewer))
    assert refused.returncode == 1 and refused.stderr.startswith("clearpost: 404: "), refused.stderr

    scrape = load_metrics_token(KitSettings(var_dir=system.var_dir))
    metrics = httpx.get(
        f"{system.urls['review']}/metrics", headers={"Authorization": f"Bearer {scrape}"}
    ).text
    assert 'clearpost_review_queue_depth{stage="compliance"}' in metrics
    assert 'clearpost_screening_duration_seconds_count{source="workflow"}' in metrics
    assert "temporal_activity_execution_latency_seconds_bucket" in metrics  # the SDK's, forwarded
    assert 'route="/api/v1/reviews/queue"' in metrics
    gateway = httpx.get(f"{system.gateway}/openapi.json").json()
    assert (
        "/api/v1/reviews/queue" in gateway["paths"] and "/api/v1/drafts/{draft_id}/submit" in gateway["paths"]
    )
