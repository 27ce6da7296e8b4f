"""Pre-approved crisis templates through the running system (docs/crisis-lane.md): a template passes
its full review once and is recorded, never posted; one crisis holder then publishes it filled with
typed values, alone and at once; bad values, a wrong password and a non-crisis user are refused
with nothing posted; every step is in the trail."""

from __future__ import annotations

import json

from tests.e2e.crisis_template_fixtures import (
    BODY,
    TITLE,
    VALUES,
    approved_template,
    outbox_lines,
    wait_for_use,
)
from tests.e2e.spine_fixtures import draft_body
from tests.system import DEMO_PASSWORD, RunningSystem


async def test_an_approved_template_is_published_filled_by_one_crisis_holder(system: RunningSystem) -> None:
    draft, template = await approved_template(system)
    # The template itself never went out.
    assert draft["id"] not in [line["draft_id"] for line in outbox_lines(system)]
    assert template["variables"] == ["time", "date", "place", "phone"]
    assert "North Clinic" in template["places"] and template["body"] == BODY

    async with system.client("legal@demo") as legal:
        no_role = await legal.post(
            f"/api/v1/crisis/templates/{template['id']}/posts",
            json={"values": VALUES, "reason": "water main break", "password": DEMO_PASSWORD},
        )
        assert no_role.status_code == 403

    async with system.client("crisis@demo") as crisis:
        for values, why in (
            ({**VALUES, "place": "Somewhere Else"}, "place"),
            ({**VALUES, "phone": "+1 555 999 0000"}, "phone"),
            ({**VALUES, "time": "2pm"}, "time"),
            ({**VALUES, "date": "tomorrow"}, "date"),
            ({k: v for k, v in VALUES.items() if k != "phone"}, "missing"),
        ):
            refused = await crisis.post(
                f"/api/v1/crisis/templates/{template['id']}/posts",
                json={"values": values, "reason": "water main break", "password": DEMO_PASSWORD},
            )
            assert refused.status_code == 422 and why in refused.json()["detail"], (why, refused.text)
        wrong = await crisis.post(
            f"/api/v1/crisis/templates/{template['id']}/posts",
            json={"values": VALUES, "reason": "water main break", "password": "wrong"},
        )
        assert wrong.status_code == 403 and wrong.json()["error"] == "signature_failed"

        used = await crisis.post(
            f"/api/v1/crisis/templates/{template['id']}/posts",
            json={"values": VALUES, "reason": "water main break", "password": DEMO_PASSWORD},
        )
        assert used.status_code == 201, used.text
        use = used.json()
        assert use["body"].startswith("Boil tap water before drinking or cooking at North Clinic from 14:30")
        finished = await wait_for_use(crisis, template["id"], use["id"])
        assert finished["status"] == "published", finished

    posted = [line for line in outbox_lines(system) if line["draft_id"] == use["draft_id"]]
    assert len(posted) == 1
    assert "call +1 555 010 2000." in json.dumps(posted[0])

    async with system.client("author@demo") as author:
        # The filled draft is the crisis holder's, not the template author's: not theirs to change.
        assert (await author.put(f"/api/v1/drafts/{use['draft_id']}", json=draft_body("x"))).status_code in (
            403,
            404,
        )

    async with system.client("auditor@demo") as auditor:
        template_events = (
            await auditor.get("/api/v1/audit/events", params={"draft_id": draft["id"]})
        ).json()["events"]
        post_events = (
            await auditor.get("/api/v1/audit/events", params={"draft_id": use["draft_id"]})
        ).json()["events"]
    template_actions = [e["action"] for e in template_events]
    assert "template.approved" in template_actions and "post.published" not in template_actions
    post_actions = [e["action"] for e in post_events]
    for expected in ("draft.created", "template.used", "template.published"):
        assert expected in post_actions, (expected, post_actions)
    used_event = next(e for e in post_events if e["action"] == "template.used")
    assert used_event["details"]["values"] == VALUES and used_event["details"]["template_id"] == draft["id"]


async def test_the_emergency_lane_and_the_normal_path_refuse_a_template_draft(system: RunningSystem) -> None:
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts", json=draft_body(BODY, title=TITLE, purpose="crisis_template")
        )
        assert created.status_code == 201, created.text
        draft = created.json()
        changed = await author.put(f"/api/v1/drafts/{draft['id']}", json=draft_body(BODY, purpose="post"))
        assert changed.status_code == 409 and changed.json()["error"] == "purpose_fixed"
    async with system.client("crisis@demo") as crisis:
        started = await crisis.post(
            "/api/v1/crisis/posts",
            json={
                "draft_id": draft["id"],
                "version": 1,
                "reason": "water main break",
                "password": DEMO_PASSWORD,
            },
        )
        assert started.status_code == 409 and started.json()["error"] == "not_a_post", started.text
