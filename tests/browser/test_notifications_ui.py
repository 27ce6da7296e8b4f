"""The notifications inbox in real headless Chromium against the running system (SQLite): a
compliance reviewer signed in to the review UI is told of a new review task, sees the unread count
in the navigation, follows the link to the draft and marks the notice read. axe-core checks the page."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import test_consent_ui as consent_base
from tests.browser import test_review_ui as base
from tests.e2e.spine_fixtures import BALANCED_BODY
from tests.system import RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

pages = base.pages  # one browser context per user, closed after the test
axe_problems = consent_base.axe_problems
TITLE = "Notified heart month"
WAIT_SECONDS = 60


async def inbox_row(page: Any, draft_id: str, kind: str) -> Any:
    """The inbox row of one notice, reloading until the deliverer has put it there."""
    row = page.locator(f'tr[data-draft-id="{draft_id}"][data-kind="{kind}"]')
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await page.goto("/review/notifications")
        if await row.count() == 1:
            return row
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {kind} notice of {draft_id} reached the inbox")


async def unread(page: Any) -> int:
    return int((await page.locator("#unread-summary").inner_text()).split()[0])


async def test_a_reviewer_is_told_of_a_new_task_and_marks_it_read(
    system: RunningSystem, pages: Any, output_dir: Path, axe_source: str
) -> None:
    compliance = await pages("compliance@demo")  # signing in puts them in the notification directory
    page = compliance.page
    draft_id = await base.create_and_submit(system, BALANCED_BODY, title=TITLE)

    row = await inbox_row(page, draft_id, "review.requested")
    assert "A review is waiting for you" in await row.inner_text() and "compliance" in await row.inner_text()
    assert TITLE not in await page.locator("main").inner_text()  # ids and links only, never post text
    before = await unread(page)
    assert before >= 1
    badge = page.get_by_role("navigation", name="Main").locator("#nav-notifications .badge")
    assert await badge.inner_text() == str(before)
    problems = await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "40-notifications.png", full_page=True)

    button = row.get_by_role("button", name="Mark read")
    assert draft_id in (await button.inner_text())  # the button says which notice it marks
    await button.click()
    await page.wait_for_url("**/review/notifications")
    row = page.locator(f'tr[data-draft-id="{draft_id}"][data-kind="review.requested"]')
    assert "Read" in await row.inner_text() and await row.get_by_role("button").count() == 0
    assert await unread(page) == before - 1
    if before - 1:
        assert await badge.inner_text() == str(before - 1)
    else:
        assert await badge.count() == 0

    # Preferences: an address the server refuses is shown with what was typed kept; then saved.
    form = page.get_by_role("form", name="What you are told, and how")
    await form.evaluate("f => { f.noValidate = true; }")  # the server's refusal, not the browser's
    await form.get_by_label("E-mail address for notifications").fill("casey@")
    await form.get_by_label("A review is waiting for you: by e-mail").uncheck()
    await form.get_by_role("button", name="Save notification preferences").click()
    await page.wait_for_load_state()
    assert "Nothing was saved" in await page.locator("#preferences-error").inner_text()
    assert await form.get_by_label("E-mail address for notifications").input_value() == "casey@"
    assert not await form.get_by_label("A review is waiting for you: by e-mail").is_checked()
    problems += await axe_problems(page, axe_source)
    await form.get_by_label("E-mail address for notifications").fill("casey@clinic.example")
    await form.get_by_label("E-mail digest").select_option("hourly")
    await form.get_by_role("button", name="Save notification preferences").click()
    await page.wait_for_url("**/review/notifications?saved=1")
    assert "saved" in await page.locator("#preferences-saved").inner_text()
    async with system.client("compliance@demo") as api:
        saved = (await api.get("/api/v1/notifications/preferences")).json()
    assert saved["email"] == "casey@clinic.example" and saved["digest"] == "hourly"
    assert saved["channels"]["review.requested"] == ["inbox"]
    assert saved["channels"]["review.reminder"] == ["email", "inbox"]
    await page.screenshot(path=output_dir / "41-notification-preferences.png", full_page=True)

    row = page.locator(f'tr[data-draft-id="{draft_id}"][data-kind="review.requested"]')
    await row.get_by_role("link", name=draft_id).click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}")
    assert TITLE in await page.locator("main").inner_text()
    problems += await axe_problems(page, axe_source)
    assert problems == []
    assert compliance.dialogs == []
