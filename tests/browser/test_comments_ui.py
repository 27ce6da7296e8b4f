"""Comments in real headless Chromium against a running system of this module's own (SQLite), whose
publisher posts to and reads comments from the Meta Graph fake: an approved post goes out on the
Facebook Page, two comments are written under it there (a side effect, and a mother naming her
son in hospital), the publisher's listener reads them, the review service screens them and opens a
case. Then in the browser: publisher@demo hides the PHI comment in one click from the moderation
inbox (the fake's comment is hidden), and pv@demo opens the case from the navigation, hands it off
with the safety database's reference and closes it (a reason too short first: refused on the page
with what was typed). axe-core checks each page."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.browser import test_consent_ui as consent_base
from tests.browser import test_review_ui as base
from tests.e2e.channel_support import (
    FACEBOOK_TIMEOUT_SECONDS,
    PAGE_ID,
    account_name,
    callback_url,
    connect_through_browser,
)
from tests.e2e.spine_fixtures import decide, wait_for_status
from tests.fakes.networks import meta
from tests.fakes.networks.meta_state import FakeComment, FakeMeta
from tests.fakes.serve import ServedApp
from tests.system import RunningSystem, start_system

pytestmark = pytest.mark.e2e

axe_problems = consent_base.axe_problems
Watched = base.Watched
WAIT_SECONDS = 90
REVIEWERS = {"compliance": "compliance@demo", "legal": "legal@demo", "medical": "medical@demo"}
BODY = "Flu shots are available at the Main Street clinic every weekday from 8 to 6. No appointment needed."
SIDE_EFFECT = "I started Cardiozen last month and my hair fell out, is that normal?"
PHI = "Please pray for my grandma Eloise Brandt, she was admitted to the ICU last night."


@dataclass
class CommentWorld:
    system: RunningSystem
    facebook: FakeMeta
    side_effect: FakeComment
    phi: FakeComment


@pytest.fixture(scope="module")
def facebook() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta(container_polls=0)
    fake.add_user("user-1")
    fake.add_page(PAGE_ID, "Riverside Clinic")
    with ServedApp(meta.create_app(fake)) as served:
        yield fake, served.url


@pytest.fixture(scope="module")
def comments_system(
    facebook: tuple[FakeMeta, str],
    temporal_dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSystem]:
    fake, url = facebook
    networks = {
        "facebook": {
            "api_base_url": url,
            "auth_base_url": url,
            "timeout_seconds": FACEBOOK_TIMEOUT_SECONDS,
            "client_id": "fake-app-id",
            "client_secret": "fake-app-secret",
        }
    }
    env = {
        "CLEARPOST_PUBLISHER_NETWORKS": json.dumps(networks),
        # The listener reads every two seconds (the default is five minutes).
        "CLEARPOST_PUBLISHER_COMMENT_POLL_SECONDS": "2",
    }
    with start_system("sqlite", temporal_dev_server, tmp_path_factory, extra_env=env) as running:
        fake.redirect_uris = (callback_url(running, "facebook"),)
        yield running


async def poll(what: str, check: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} never happened within {WAIT_SECONDS} s")


@pytest.fixture(scope="module")
async def world(comments_system: RunningSystem, facebook: tuple[FakeMeta, str]) -> CommentWorld:
    """The Page connected, a post approved and live on it, two comments under it, both screened."""
    system, (fake, _) = comments_system, facebook
    channel = account_name("facebook")
    connected = await connect_through_browser(system, "facebook", channel)
    assert connected.status_code == 200 and connected.json()["status"] == "ok", connected.text
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts", json={"title": "Flu shots", "body": BODY, "channels": [channel]}
        )
        assert created.status_code == 201, created.text
        draft_id = created.json()["id"]
        assert (await author.post(f"/api/v1/drafts/{draft_id}/submit")).status_code == 200
        draft = await wait_for_status(author, draft_id, "in_review")
        for stage in [s["stage"] for s in draft["stages"]]:
            decided = await decide(system, REVIEWERS[stage], draft, stage)
            assert decided.status_code == 200, decided.text
        published = await wait_for_status(author, draft_id, "published", "publish_failed", wait_seconds=90)
        assert published["status"] == "published", published
        answer = await author.get("/api/v1/publications", params={"draft_id": draft_id})
    [post_id] = [p["external_id"] for p in answer.json()["publications"] if p["channel"] == channel]
    side_effect = fake.comment(post_id, SIDE_EFFECT, author="Jordan Lee")
    phi = fake.comment(post_id, PHI, author="Maria Miller")
    async with system.client("admin@demo") as admin:
        listening = await admin.post("/api/v1/comments/listen")
        assert listening.status_code == 200, listening.text

    async with system.client("publisher@demo") as publisher:

        async def screened() -> bool:
            rows = (await publisher.get("/api/v1/comments")).json().get("comments", [])
            found = {c["author"]: c["categories"] for c in rows if c["screening_id"]}
            return "phi" in found.get("Maria Miller", []) and "adverse_event" in found.get("Jordan Lee", [])

        await poll("both comments screened", screened)
    async with system.client("pv@demo") as pv:

        async def opened() -> bool:
            return bool((await pv.get("/api/v1/ae-cases")).json().get("cases"))

        await poll("the adverse-event case opened", opened)
    return CommentWorld(system, fake, side_effect, phi)


@pytest.fixture
async def pages(browser: Any, comments_system: RunningSystem) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def open_as(username: str) -> Watched:
        context = await browser.new_context(
            base_url=comments_system.gateway, viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        watched = Watched(await context.new_page())
        await base.sign_in(watched.page, username)
        return watched

    yield open_as
    for context in contexts:
        await context.close()


async def test_a_publisher_hides_a_phi_comment_in_one_click(
    world: CommentWorld, pages: Any, output_dir: Path, axe_source: str
) -> None:
    problems: list[str] = []
    page = (await pages("publisher@demo")).page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    await page.wait_for_url("**/review/moderation")
    problems += await axe_problems(page, axe_source)
    items = page.locator("ul.moderation > li")
    texts = [await items.nth(i).inner_text() for i in range(await items.count())]
    assert any("Eloise Brandt" in t for t in texts) and any("hair fell out" in t for t in texts)
    phi_item = page.locator("ul.moderation > li", has_text="Eloise Brandt")
    assert "a patient" in (await phi_item.inner_text()).lower()  # the finding's explanation
    await page.screenshot(path=output_dir / "70-moderation-inbox.png", full_page=True)

    await page.get_by_role("button", name="Hide the comment by Maria Miller").click()
    await page.wait_for_url("**/review/moderation?hidden=1")
    assert "Hidden on its network" in await page.get_by_role("status").inner_text()
    assert "Hidden on its network" in await phi_item.inner_text()
    assert await page.get_by_role("button", name="Hide the comment by Maria Miller").count() == 0
    assert world.phi.is_hidden and not world.side_effect.is_hidden  # on the network itself
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "71-moderation-hidden.png", full_page=True)
    assert not problems, problems


async def test_pharmacovigilance_hands_off_and_closes_the_case(
    world: CommentWorld, pages: Any, output_dir: Path, axe_source: str
) -> None:
    problems: list[str] = []
    page = (await pages("pv@demo")).page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="AE cases").click()
    await page.wait_for_url("**/review/ae-cases")
    problems += await axe_problems(page, axe_source)
    row = page.locator('tr[data-status="open"]', has_text="Jordan Lee")
    assert "Cardiozen" in await row.inner_text()
    await page.screenshot(path=output_dir / "72-ae-cases.png", full_page=True)

    await row.get_by_role("link").click()
    await page.wait_for_url("**/review/ae-cases/*")
    case_url = page.url
    text = await page.locator("main").inner_text()
    assert "hair fell out" in text and "Internal hand-off" in text and "Regulatory report" in text
    problems += await axe_problems(page, axe_source)

    hand_off = page.get_by_role("form", name="Hand off to the safety database")
    await hand_off.get_by_label("Safety database reference").fill("SDB-2026-0042")
    await hand_off.get_by_role("button", name="Hand off").click()
    await page.wait_for_url("**?done=handed_off")
    assert "handed off" in await page.locator("#case-status").inner_text()
    assert "SDB-2026-0042" in await page.locator("main").inner_text()

    close = page.get_by_role("form", name="Close the case")
    await close.get_by_label("Why it is closed (required)").fill("ok")
    await close.get_by_role("button", name="Close the case").click()
    await page.wait_for_load_state()
    assert "closing a case needs a reason" in await close.get_by_role("alert").inner_text()
    assert await close.get_by_label("Why it is closed (required)").input_value() == "ok"
    problems += await axe_problems(page, axe_source)
    await close.get_by_label("Why it is closed (required)").fill(
        "Reported to the safety database as SDB-2026-0042"
    )
    await close.get_by_role("button", name="Close the case").click()
    await page.wait_for_url("**?done=closed")
    assert "closed" in await page.locator("#case-status").inner_text()
    steps = page.locator("ol.steps > li")
    assert [await steps.nth(i).get_attribute("data-step") for i in range(await steps.count())] == [
        "opened",
        "handed_off",
        "closed",
    ]
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "73-ae-case-closed.png", full_page=True)

    report = await page.request.get(f"{case_url.split('?')[0]}/export.pdf")
    assert report.status == 200 and (await report.body()).startswith(b"%PDF")
    case_id = case_url.split("?")[0].rsplit("/", 1)[-1]
    async with world.system.client("auditor@demo") as auditor:
        for action in ("ae_case.handed_off", "ae_case.closed"):
            trail = await auditor.get("/api/v1/audit/events", params={"action": action})
            assert trail.status_code == 200, trail.text
            [event] = [e for e in trail.json()["events"] if e["subject"] == f"ae_case:{case_id}"]
            assert event["actor_name"] == "Pat Pharmacovigilance", event
    assert not problems, problems
