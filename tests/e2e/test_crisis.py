"""The crisis lane through the running system (docs/crisis-lane.md): an emergency post started by
one crisis holder, co-signed by two others, published at once, then rejected by its after-review
and taken down; every step in the trail and in the report."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.e2e.spine_fixtures import decide, draft_body, wait_for_status
from tests.system import DEMO_PASSWORD, RunningSystem

BODY = "Boil tap water before drinking or cooking until further notice. We will post again when it is safe."


async def wait_for_crisis(
    client: httpx.AsyncClient, crisis_id: str, *statuses: str, wait_seconds: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        post = (await client.get(f"/api/v1/crisis/posts/{crisis_id}")).json()
        if post.get("status") in statuses:
            return post
        await asyncio.sleep(0.3)
    raise AssertionError(f"crisis post {crisis_id} never reached {statuses}; last: {post}")


async def test_a_co_signed_emergency_post_goes_out_and_a_rejecting_after_review_takes_it_down(
    system: RunningSystem,
) -> None:
    async with system.client("author@demo") as author:
        created = await author.post("/api/v1/drafts", json=draft_body(BODY, title="Boil-water notice"))
        assert created.status_code == 201, created.text
        draft = created.json()

    async with system.client("crisis@demo") as starter:
        refused = await starter.post(
            "/api/v1/crisis/posts",
            json={"draft_id": draft["id"], "version": 1, "reason": "water main break", "password": "wrong"},
        )
        assert refused.status_code == 403 and refused.json()["error"] == "signature_failed"
        started = await starter.post(
            "/api/v1/crisis/posts",
            json={
                "draft_id": draft["id"],
                "version": 1,
                "reason": "water main break",
                "password": DEMO_PASSWORD,
            },
        )
        assert started.status_code == 201, started.text
        crisis = started.json()
        assert crisis["status"] == "awaiting_approvals" and crisis["window_seconds_left"] > 0
        own = await starter.post(
            f"/api/v1/crisis/posts/{crisis['id']}/approvals",
            json={"content_hash": crisis["content_hash"], "password": DEMO_PASSWORD},
        )
        assert own.status_code == 403 and "starter" in own.json()["detail"]

    async with system.client("legal@demo") as legal:
        no_role = await legal.post(
            f"/api/v1/crisis/posts/{crisis['id']}/approvals",
            json={"content_hash": crisis["content_hash"], "password": DEMO_PASSWORD},
        )
        assert no_role.status_code == 403

    for who in ("crisis2@demo", "crisis3@demo"):
        async with system.client(who) as cosigner:
            signed = await cosigner.post(
                f"/api/v1/crisis/posts/{crisis['id']}/approvals",
                json={"content_hash": crisis["content_hash"], "password": DEMO_PASSWORD},
            )
            assert signed.status_code == 201, signed.text

    async with system.client("crisis@demo") as starter:
        live = await wait_for_crisis(starter, crisis["id"], "after_review", "publish_failed", "expired")
        assert live["status"] == "after_review", live
        assert live["after_review_seconds_left"] > 0
    outbox = (system.var_dir / "outbox" / "sandbox.jsonl").read_text().splitlines()
    assert [json.loads(line)["draft_id"] for line in outbox if line.strip()].count(draft["id"]) == 1

    async with system.client("author@demo") as author:
        in_review = await wait_for_status(author, draft["id"], "in_review")
    rejected = await decide(
        system, "compliance@demo", in_review, "compliance", "reject", reason="not accurate"
    )
    assert rejected.status_code == 200, rejected.text

    async with system.client("auditor@demo") as auditor:
        down = await wait_for_crisis(auditor, crisis["id"], "taken_down", "takedown_failed", "kept")
        assert (down["status"], down["outcome"]) == ("taken_down", "rejected"), down
        report = await auditor.get("/api/v1/crisis/report", params={"format": "csv"})
        assert report.status_code == 200 and crisis["id"] in report.text
        events = (await auditor.get("/api/v1/audit/events", params={"draft_id": draft["id"]})).json()[
            "events"
        ]
    actions = [e["action"] for e in events]
    for expected in (
        "crisis.started",
        "crisis.approved",
        "crisis.published",
        "crisis.after_review_opened",
        "draft.rejected",
        "crisis.after_review_outcome",
        "crisis.taken_down",
        "post.takedown_requested",
    ):
        assert expected in actions, (expected, actions)
    assert actions.count("crisis.approved") == 2
