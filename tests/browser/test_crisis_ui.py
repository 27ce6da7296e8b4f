"""The Crisis page in real headless Chromium against the running system (SQLite): a crisis holder
starts an emergency post from a draft (a wrong password first: refused, the reason kept), two others
co-sign it on the page, and the page shows it out with the time left in its after-review. axe-core
checks each page."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import test_consent_ui as consent_base
from tests.browser import test_review_ui as base
from tests.system import DEMO_PASSWORD, RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

pages = base.pages
axe_problems = consent_base.axe_problems
WAIT_SECONDS = 60
BODY = "The east campus is closed today because of flooding. Please use the Main Street clinic."


async def reload_until(page: Any, locator: str, status: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await page.goto("/review/crisis")
        if await page.locator(f'{locator}[data-status="{status}"]').count() == 1:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{locator} never showed {status} on /review/crisis")


async def test_start_co_sign_and_see_the_emergency_post_out(
    system: RunningSystem, pages: Any, output_dir: Path, axe_source: str
) -> None:
    problems: list[str] = []
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts", json={"title": "Campus closed", "body": BODY, "channels": ["sandbox"]}
        )
        assert created.status_code == 201, created.text
        draft_id: str = created.json()["id"]

    starter = await pages("crisis@demo")
    page = starter.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Crisis").click()
    await page.wait_for_url("**/review/crisis")
    problems += await axe_problems(page, axe_source)
    form = page.get_by_role("form", name="Start an emergency post")
    await form.get_by_label("Draft id").fill(draft_id)
    await form.get_by_label("Version").fill("1")
    await form.get_by_label("Why it cannot wait for review").fill("flooding on the east campus")
    await form.get_by_label("Your password").fill("not-my-password")
    await form.get_by_role("button", name="Start the emergency post").click()
    await page.wait_for_load_state()
    assert "Nothing was started" in await page.get_by_role("alert").inner_text()
    assert (
        await form.get_by_label("Why it cannot wait for review").input_value()
        == "flooding on the east campus"
    )
    await form.get_by_label("Your password").fill(DEMO_PASSWORD)
    await form.get_by_role("button", name="Start the emergency post").click()
    await page.wait_for_url("**/review/crisis?notice=started")
    card = f'article[data-draft-id="{draft_id}"]'
    assert "Time left to co-sign" in await page.locator(card).inner_text()
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "60-crisis-started.png", full_page=True)

    for who in ("crisis2@demo", "crisis3@demo"):
        cosigner = await pages(who)
        page = cosigner.page
        await page.goto("/review/crisis")
        sign = page.get_by_role("form", name=f"Co-sign the crisis post of draft {draft_id}")
        await sign.get_by_label("Your password").fill(DEMO_PASSWORD)
        await sign.get_by_role("button", name="Co-sign and publish when the quorum is reached").click()
        await page.wait_for_url("**/review/crisis?notice=approved")

    await reload_until(page, card, "after_review")
    text = await page.locator(card).inner_text()
    assert "2 of 2" in text and "Time left in the after-review" in text
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "61-crisis-after-review.png", full_page=True)
    assert not problems, problems
