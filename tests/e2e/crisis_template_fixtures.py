"""Helpers the crisis-template suites share (tests/e2e/test_crisis_templates.py and the browser's
tests/browser/test_crisis_templates_ui.py): a template approved through its full review in the
running system, the sandbox outbox, waiting for a post from a template to finish."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.e2e.spine_fixtures import decide, draft_body, wait_for_status
from tests.system import RunningSystem

TITLE = "Boil-water notice"
BODY = (
    "Boil tap water before drinking or cooking at {place} from {time} on {date} until further notice. "
    "Questions: call {phone}."
)
VALUES = {"place": "North Clinic", "time": "14:30", "date": "2026-12-04", "phone": "+1 555 010 2000"}


def outbox_lines(system: RunningSystem) -> list[dict[str, Any]]:
    path = system.var_dir / "outbox" / "sandbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def wait_for_use(
    client: httpx.AsyncClient, template_row: str, use_id: str, wait_seconds: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    use: dict[str, Any] = {}
    while time.monotonic() < deadline:
        template = (await client.get(f"/api/v1/crisis/templates/{template_row}")).json()
        use = next((u for u in template["uses"] if u["id"] == use_id), {})
        if use.get("status") in ("published", "publish_failed"):
            return use
        await asyncio.sleep(0.3)
    raise AssertionError(f"template post {use_id} never finished; last: {use}")


async def approved_template(system: RunningSystem) -> tuple[dict[str, Any], dict[str, Any]]:
    """A template draft through its full review: (the draft, the approved template record)."""
    async with system.client("author@demo") as author:
        bad = await author.post(
            "/api/v1/drafts", json=draft_body("Go to {venue} now.", title=TITLE, purpose="crisis_template")
        )
        assert bad.status_code == 422 and "{venue}" in bad.json()["detail"], bad.text
        created = await author.post(
            "/api/v1/drafts", json=draft_body(BODY, title=TITLE, purpose="crisis_template")
        )
        assert created.status_code == 201, created.text
        draft = created.json()
        assert draft["purpose"] == "crisis_template"
        submitted = await author.post(f"/api/v1/drafts/{draft['id']}/submit")
        assert submitted.status_code == 200, submitted.text
        in_review = await wait_for_status(author, draft["id"], "in_review")
    for stage in [s["stage"] for s in in_review["stages"]]:
        approved = await decide(system, f"{stage}@demo", in_review, stage, "approve")
        assert approved.status_code == 200, approved.text
    async with system.client("author@demo") as author:
        done = await wait_for_status(author, draft["id"], "template_approved", "published", "publish_failed")
        assert done["status"] == "template_approved", done
    async with system.client("crisis@demo") as crisis:
        templates = (await crisis.get("/api/v1/crisis/templates", params={"active": "true"})).json()[
            "templates"
        ]
    template = next(t for t in templates if t["template_id"] == draft["id"])
    return draft, template
