"""Crisis templates in real headless Chromium against the running system (SQLite): an author marks a
new draft as a crisis template on the New draft page (an unknown variable refused on the form); a
template approved through its full review is listed on the Crisis page with its variables, and
crisis@demo fills its form (a time, a date, a place and a phone from their selects, a reason; a
wrong password first: refused, what was typed kept), submits, and sees the filled post published,
once, in the sandbox outbox. axe-core checks each page."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import test_consent_ui as consent_base
from tests.browser import test_review_ui as base
from tests.e2e.crisis_template_fixtures import BODY, TITLE, VALUES, approved_template, outbox_lines
from tests.system import DEMO_PASSWORD, RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

pages = base.pages
axe_problems = consent_base.axe_problems
WAIT_SECONDS = 90
REASON = "water main break on the north side"


async def reload_until_published(page: Any, use_id: str) -> None:
    post = page.locator(f'li[data-use-id="{use_id}"]')
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await page.reload()
        status = await post.get_attribute("data-status")
        if status in ("published", "publish_failed"):
            assert status == "published", await post.inner_text()
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the post {use_id} from the template never showed published on /review/crisis")


async def test_an_author_marks_a_new_draft_as_a_crisis_template(
    system: RunningSystem, pages: Any, axe_source: str
) -> None:
    author = await pages("author@demo")
    page = author.page
    await page.goto("/review/drafts/new")
    problems = await axe_problems(page, axe_source)
    await page.get_by_label("Title").fill(TITLE)
    await page.get_by_label("Post text").fill("Go to {venue} now.")
    await page.get_by_label("Crisis template (text with {time}, {date}, {place}, {phone})").check()
    await page.get_by_role("button", name="Save draft").click()
    await page.wait_for_load_state()
    assert "{venue}" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_label(
        "Crisis template (text with {time}, {date}, {place}, {phone})"
    ).is_checked()
    problems += await axe_problems(page, axe_source)
    await page.get_by_label("Post text").fill(BODY)
    await page.get_by_role("button", name="Save draft").click()
    await page.wait_for_url(re.compile(r".*/review/drafts/(?!new$)[^/?]+$"))
    purpose = page.locator("dd.purpose")
    assert await purpose.get_attribute("data-purpose") == "crisis_template"
    assert "never published itself" in await purpose.inner_text()
    problems += await axe_problems(page, axe_source)
    assert not problems, problems


async def test_a_crisis_holder_publishes_from_an_approved_template_on_the_page(
    system: RunningSystem, pages: Any, output_dir: Path, axe_source: str
) -> None:
    problems: list[str] = []
    draft, template = await approved_template(system)

    holder = await pages("crisis@demo")
    page = holder.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Crisis").click()
    await page.wait_for_url("**/review/crisis")
    card = page.locator(f'article[data-template-id="{draft["id"]}"]')
    text = await card.inner_text()
    assert "{place}" in text and "{phone}" in text and "Posts from this template" in text
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "62-crisis-templates.png", full_page=True)

    form = card.get_by_role("form", name=f"Publish from the template {template['title']}")
    await form.get_by_label("Time").fill(VALUES["time"])
    await form.get_by_label("Date").fill(VALUES["date"])
    await form.get_by_label("Place").select_option(VALUES["place"])
    await form.get_by_label("Phone number").select_option(VALUES["phone"])
    await form.get_by_label("Why it is published now").fill(REASON)
    await form.get_by_label("Your password").fill("not-my-password")
    await form.get_by_role("button", name="Publish from the template").click()
    await page.wait_for_load_state()
    alert = await form.get_by_role("alert").inner_text()
    assert "Nothing was published" in alert and "password did not match" in alert
    assert await form.get_by_label("Place").input_value() == VALUES["place"]
    assert await form.get_by_label("Phone number").input_value() == VALUES["phone"]
    assert await form.get_by_label("Time").input_value() == VALUES["time"]
    assert await form.get_by_label("Date").input_value() == VALUES["date"]
    assert await form.get_by_label("Why it is published now").input_value() == REASON
    assert await form.get_by_label("Your password").input_value() == ""
    problems += await axe_problems(page, axe_source)
    async with system.client("crisis@demo") as crisis:
        refused = (await crisis.get(f"/api/v1/crisis/templates/{template['id']}")).json()
    assert refused["uses"] == [], "a wrong password signs nothing"

    await form.get_by_label("Your password").fill(DEMO_PASSWORD)
    await form.get_by_role("button", name="Publish from the template").click()
    await page.wait_for_url("**/review/crisis?notice=used&used=*")
    used = page.locator("#template-used")
    filled = await used.inner_text()
    assert "Boil tap water before drinking or cooking at North Clinic from 14:30 on 2026-12-04" in filled
    assert "call +1 555 010 2000." in filled
    use_id = await used.get_attribute("data-use-id")
    assert use_id

    await reload_until_published(page, use_id)
    assert await page.locator("#template-used").get_attribute("data-status") == "published"
    assert "Published" in await page.locator(f'li[data-use-id="{use_id}"]').inner_text()
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "63-crisis-template-published.png", full_page=True)

    async with system.client("crisis@demo") as crisis:
        shown = (await crisis.get(f"/api/v1/crisis/templates/{template['id']}")).json()
    [use] = [u for u in shown["uses"] if u["id"] == use_id]
    posted = [line for line in outbox_lines(system) if line["draft_id"] == use["draft_id"]]
    assert len(posted) == 1 and "call +1 555 010 2000." in str(posted[0])
    assert use["values"] == VALUES and use["reason"] == REASON
    assert not problems, problems
