"""Channel accounts, takedown, pause and the calendar in real headless Chromium against the running
system (SQLite), with a local fake Mastodon instance on a loopback port.

An admin connects the Mastodon account on the Channels page (a wrong token first: refused, the rest
kept); a post approved for it goes live there; the calendar shows it; compliance pauses all
publishing (the banner shows on every page) and resumes; a publisher takes the post down from the
draft page (a wrong password first) and the page shows the network's answer. axe-core checks each page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import test_consent_ui as consent_base
from tests.browser import test_review_ui as base
from tests.e2e.spine_fixtures import BALANCED_BODY, decide, wait_for_status
from tests.fakes.networks.mastodon import FakeMastodon, create_app
from tests.fakes.serve import ServedApp
from tests.system import DEMO_PASSWORD, RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

pages = base.pages  # one browser context per user, closed after the test
axe_problems = consent_base.axe_problems
TOKEN = "token-of-the-clinic"
ACCOUNT = "clinic-masto"
DECIDERS = {"compliance": "compliance@demo", "legal": "legal@demo", "medical": "medical@demo"}
WAIT_SECONDS = 60


@pytest.fixture
async def mastodon(system: RunningSystem) -> AsyncIterator[tuple[FakeMastodon, str]]:
    """A fake instance for the test; the account the test connects to it is disconnected after it, so
    the shared system's later tests see only their own channels."""
    app = create_app(domain="mastodon.example", max_characters=500)
    fake: FakeMastodon = app.state.fake
    fake.add_account("clinic", TOKEN)
    with ServedApp(app) as served:
        yield fake, served.url
    async with system.client("admin@demo") as admin:
        await admin.delete(f"/api/v1/channel-accounts/{ACCOUNT}")


async def approved_for(system: RunningSystem, channel: str) -> str:
    """A draft for `channel`, submitted and approved at every stage through the API; its id."""
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts",
            json={"title": "Blood pressure week", "body": BALANCED_BODY, "channels": [channel]},
        )
        assert created.status_code == 201, created.text
        draft_id: str = created.json()["id"]
        assert (await author.post(f"/api/v1/drafts/{draft_id}/submit")).status_code == 200
        draft = await wait_for_status(author, draft_id, "in_review", wait_seconds=WAIT_SECONDS)
    for stage in draft["stages"]:
        answer = await decide(system, DECIDERS[stage["stage"]], draft, stage["stage"])
        assert answer.status_code == 200, answer.text
    return draft_id


async def reload_until(page: Any, path: str, text: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await page.goto(path)
        if text in await page.locator("main").inner_text():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{text!r} never showed on {path}")


async def test_connect_publish_calendar_pause_and_take_down(
    system: RunningSystem,
    pages: Any,
    output_dir: Path,
    axe_source: str,
    mastodon: tuple[FakeMastodon, str],
) -> None:
    fake, instance = mastodon
    problems: list[str] = []

    # An admin connects the Mastodon account; a wrong token is refused with Mastodon's reason.
    admin = await pages("admin@demo")
    page = admin.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Channels").click()
    await page.wait_for_url("**/review/channels")
    problems += await axe_problems(page, axe_source)
    form = page.get_by_role("form", name="Connect a Mastodon account")
    await form.get_by_label("Name drafts use for it").fill(ACCOUNT)
    await form.get_by_label("Instance address").fill(instance)
    await form.get_by_label("Access token").fill("not-the-token")
    await form.get_by_role("button", name="Connect Mastodon account").click()
    await page.wait_for_load_state()
    refusal = await page.locator("#mastodon-error").inner_text()
    assert "Nothing was connected" in refusal
    assert await form.get_by_label("Name drafts use for it").input_value() == ACCOUNT
    assert await form.get_by_label("Instance address").input_value() == instance
    assert await form.get_by_label("Access token").input_value() == ""
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "30-channel-refused.png", full_page=True)

    await form.get_by_label("Access token").fill(TOKEN)
    await form.get_by_role("button", name="Connect Mastodon account").click()
    await page.wait_for_url(f"**/review/channels?connected={ACCOUNT}")
    assert f"Connected: {ACCOUNT}." in await page.get_by_role("status").inner_text()
    row = page.locator(f'tr[data-account="{ACCOUNT}"]')
    assert "OK" in await row.inner_text() and "Mastodon" in await row.inner_text()
    await row.get_by_role("button", name=f"Check {ACCOUNT} now").click()
    await page.wait_for_url(f"**/review/channels?checked={ACCOUNT}")
    assert "OK" in await page.locator(f'tr[data-account="{ACCOUNT}"]').inner_text()
    await page.screenshot(path=output_dir / "31-channels.png", full_page=True)

    # A post approved for the account goes live there once.
    draft_id = await approved_for(system, ACCOUNT)
    async with system.client("author@demo") as author:
        await wait_for_status(author, draft_id, "published", wait_seconds=WAIT_SECONDS)
    assert len(fake.live_statuses()) == 1
    status_url = f"https://mastodon.example/@clinic/{fake.live_statuses()[0].id}"

    # The calendar shows it live today, with its network and address.
    publisher = await pages("publisher@demo")
    page = publisher.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    await page.wait_for_url("**/review/calendar")
    entry = page.locator(f'li[data-draft-id="{draft_id}"][data-kind="live"]')
    assert "Blood pressure week" in await entry.inner_text()
    assert await entry.get_by_role("link", name=status_url).count() == 1
    assert await page.get_by_role("heading", name="Expiring within 30 days").is_visible()
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "32-calendar.png", full_page=True)

    # Compliance pauses everything: the banner shows on every page, for everyone; then resumes.
    compliance = await pages("compliance@demo")
    page = compliance.page
    try:
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Publishing").click()
        await page.wait_for_url("**/review/publishing")
        problems += await axe_problems(page, axe_source)
        pause = page.get_by_role("form", name="Pause")
        await pause.get_by_label("Reason").fill("A drug recall: nothing goes out until we check.")
        await pause.get_by_label("Your password").fill(DEMO_PASSWORD)
        await pause.get_by_role("button", name="Pause publishing").click()
        await page.wait_for_url("**/review/publishing?done=paused*")
        banner = page.get_by_role("region", name="Publishing is paused")
        assert "A drug recall" in await banner.inner_text()
        await publisher.page.goto("/review/calendar")
        assert await publisher.page.get_by_role("region", name="Publishing is paused").is_visible()
        await publisher.page.goto(f"/review/drafts/{draft_id}")
        assert await publisher.page.get_by_role("region", name="Publishing is paused").is_visible()
        problems += await axe_problems(publisher.page, axe_source)
        await publisher.page.screenshot(path=output_dir / "33-pause-banner.png", full_page=True)

        resume = page.get_by_role("form", name="Resume")
        await resume.get_by_label("Reason").fill("Checked with pharmacy.")
        await resume.get_by_label("Your password").fill(DEMO_PASSWORD)
        await resume.get_by_role("button", name="Resume publishing").click()
        await page.wait_for_url("**/review/publishing?done=resumed*")
        assert "Publishing is running." in await page.locator("main").inner_text()
        assert await page.get_by_role("region", name="Publishing is paused").count() == 0
    finally:
        async with system.client("compliance@demo") as api:
            state = (await api.get("/api/v1/publishing")).json()
            if state["paused_all"]:  # never leave the shared system paused for the next test
                await api.post(
                    "/api/v1/publishing/resume", json={"reason": "cleanup", "password": DEMO_PASSWORD}
                )

    # The publisher takes it down from the draft page; a wrong password first takes nothing down.
    page = publisher.page
    await page.goto(f"/review/drafts/{draft_id}")
    where = page.get_by_role("table", name="Each network the post went to, its address and what became of it")
    assert ACCOUNT in await where.inner_text() and "Published" in await where.inner_text()
    assert await where.get_by_role("link", name=status_url).count() == 1
    takedown = page.get_by_role("form", name="Emergency takedown")
    await takedown.get_by_label("Reason for the takedown").fill("The dose stated is wrong.")
    await takedown.get_by_label("Your password").fill("not-my-password")
    await takedown.get_by_role("button", name="Take down from every network").click()
    await page.wait_for_load_state()
    assert "the password did not match" in await page.locator("#takedown-error").inner_text()
    assert await takedown.get_by_label("Reason for the takedown").input_value() == "The dose stated is wrong."
    assert fake.live_statuses() != [] and fake.deleted == []
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "34-takedown-refused.png", full_page=True)

    await takedown.get_by_label("Your password").fill(DEMO_PASSWORD)
    await takedown.get_by_role("button", name="Take down from every network").click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}?takedown=started#publications")
    assert "Takedown under way" in await page.locator("#publications").inner_text()
    await reload_until(page, f"/review/drafts/{draft_id}", "The network answered")
    removed = await page.locator(f'tr[data-channel="{ACCOUNT}"]').inner_text()
    assert "Removed" in removed and "Removed at" in removed
    assert len(fake.deleted) == 1
    await reload_until(page, f"/review/drafts/{draft_id}", "Taken down")
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "35-taken-down.png", full_page=True)

    assert problems == []
    assert admin.dialogs == [] and publisher.dialogs == [] and compliance.dialogs == []
