"""The review UI in real headless Chromium against the running system (SQLite variant)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.spine_fixtures import wait_for_status
from tests.system import DEMO_PASSWORD, RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

SAFETY = (
    "Cardiozen may cause dizziness, low blood pressure and, rarely, serious allergic reactions. "
    "Do not take Cardiozen if you are pregnant. See full Prescribing Information."
)
BODY_V1 = (
    "Ask your cardiologist whether Cardiozen is right for you. It helps lower blood pressure. "
    f"{SAFETY} Questions about your dose? Text my cell, 555-301-7788."
)
BODY_V2 = (
    "Ask your cardiologist whether Cardiozen is right for you. It helps lower blood pressure. "
    f"{SAFETY} Questions? Ask your pharmacist."
)
WAIT_SECONDS = 60


async def create_and_submit(system: RunningSystem, body: str, title: str = "Heart health month") -> str:
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts", json={"title": title, "body": body, "channels": ["sandbox"]}
        )
        assert created.status_code == 201, created.text
        draft_id: str = created.json()["id"]
        submitted = await author.post(f"/api/v1/drafts/{draft_id}/submit")
        assert submitted.status_code == 200, submitted.text
        await wait_for_status(author, draft_id, "in_review", wait_seconds=WAIT_SECONDS)
        return draft_id


class Watched:
    """A page whose dialogs and console messages are recorded (a script that runs shows up here)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.console: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.console.append(message.text))

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()


@pytest.fixture
async def pages(browser: Any, system: RunningSystem) -> AsyncIterator[Any]:
    """Opens a fresh browser context (its own cookies) per user; all closed after the test."""
    contexts: list[Any] = []

    async def open_as(username: str | None = None) -> Watched:
        context = await browser.new_context(base_url=system.gateway, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        watched = Watched(await context.new_page())
        if username is not None:
            await sign_in(watched.page, username)
        return watched

    yield open_as
    for context in contexts:
        await context.close()


async def sign_in(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    await page.goto("/review/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state()


async def queue_row(page: Any, draft_id: str, stage: str) -> Any:
    """The queue row of one task, reloading until the task shows up."""
    row = page.locator(f'tr[data-draft-id="{draft_id}"][data-stage="{stage}"]')
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        await page.goto("/review/queue")
        if await row.count() == 1:
            return row
        await asyncio.sleep(0.3)
    raise AssertionError(f"{stage} task of {draft_id} never reached the queue")


async def decide(
    page: Any, draft_id: str, stage: str, button: str, *, reason: str = "", password: str = DEMO_PASSWORD
) -> None:
    await page.goto(f"/review/drafts/{draft_id}")
    await page.get_by_role("link", name=f"Decide {stage}").click()
    if reason:
        await page.get_by_label("Reason").fill(reason)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name=button, exact=True).click()
    await page.wait_for_load_state()


async def test_compliance_and_legal_review_a_draft_to_publication(
    system: RunningSystem, pages: Any, output_dir: Path, docs_image: Path
) -> None:
    draft_id = await create_and_submit(system, BODY_V1)

    compliance = await pages("compliance@demo")
    page = compliance.page
    row = await queue_row(page, draft_id, "compliance")
    assert "Heart health month" in await row.inner_text()
    assert "Avery Author" in await row.inner_text()
    await page.screenshot(path=output_dir / "01-queue.png", full_page=True)
    await row.get_by_role("button", name="Claim").click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}")

    # Findings are marked in the text, each naming its category and explanation.
    marks = page.locator("mark.finding")
    assert await marks.count() >= 1
    mark_texts = " ".join(await marks.all_inner_texts())
    assert "555-301-7788" in mark_texts
    findings = " ".join(await page.locator("ol.findings li").all_inner_texts())
    assert "phi" in findings
    assert "Cardiozen" in await page.locator("#refs-h + ul").inner_text()
    comment = "A personal phone number; asking the author to use the clinic line."
    await page.get_by_label("Comment", exact=True).fill(comment)
    await page.get_by_role("button", name="Add comment").click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}#comments")
    assert comment in await page.locator("ol.comments").inner_text()
    # The draft's own events, newest first, fetched from the audit service scoped to this draft.
    history = await page.locator("ol.history").inner_text()
    assert "draft.submitted" in history and "review.opened" in history
    assert history.index("review.opened") < history.index("draft.submitted")
    await page.screenshot(path=output_dir / "02-draft-v1.png", full_page=True)
    await page.screenshot(path=docs_image, full_page=True)

    # Another reviewer sees who holds the claim.
    other = await pages("authorreviewer@demo")
    other_row = await queue_row(other.page, draft_id, "compliance")
    assert "Claimed by Casey Compliance" in await other_row.inner_text()

    await decide(
        page, draft_id, "compliance", "Request changes", reason="Remove the patient's name and record number."
    )
    assert await page.get_by_role("heading", name="Signed: Changes requested").is_visible()
    signed = await page.locator(".signature-record").inner_text()
    assert "Casey Compliance" in signed and "Signed at" in signed and "ask the author to change" in signed
    await page.screenshot(path=output_dir / "03-changes-requested.png", full_page=True)

    async with system.client("author@demo") as author:
        await wait_for_status(author, draft_id, "changes_requested", wait_seconds=WAIT_SECONDS)
        revised = await author.put(
            f"/api/v1/drafts/{draft_id}",
            json={"title": "Heart health month", "body": BODY_V2, "channels": ["sandbox"]},
        )
        assert revised.status_code == 200, revised.text
        assert (await author.post(f"/api/v1/drafts/{draft_id}/submit")).status_code == 200
        await wait_for_status(author, draft_id, "in_review", wait_seconds=WAIT_SECONDS)

    await queue_row(page, draft_id, "compliance")
    await page.goto(f"/review/drafts/{draft_id}")
    diff = page.locator(".diff")
    assert "555-301-7788" in " ".join(await diff.locator("del").all_inner_texts())
    assert "pharmacist" in " ".join(await diff.locator("ins").all_inner_texts())
    await page.screenshot(path=output_dir / "04-draft-v2-diff.png", full_page=True)

    await decide(page, draft_id, "compliance", "Approve")
    assert await page.get_by_role("heading", name="Signed: Approved").is_visible()

    legal = await pages("legal@demo")
    await queue_row(legal.page, draft_id, "legal")
    await decide(legal.page, draft_id, "legal", "Approve")
    assert await legal.page.get_by_role("heading", name="Signed: Approved").is_visible()

    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft_id, "published", wait_seconds=WAIT_SECONDS)
        assert published["version"] == 2
        publications = (await author.get("/api/v1/publications", params={"draft_id": draft_id})).json()
        assert publications
    await legal.page.goto(f"/review/drafts/{draft_id}")
    assert "Published" in await legal.page.locator(".facts").inner_text()
    await legal.page.screenshot(path=output_dir / "05-published.png", full_page=True)
    assert compliance.dialogs == [] and legal.dialogs == []


async def test_wrong_password_at_signing_signs_nothing(
    system: RunningSystem, pages: Any, output_dir: Path
) -> None:
    draft_id = await create_and_submit(system, BODY_V2, title="Wrong password")
    compliance = await pages("compliance@demo")
    page = compliance.page
    await queue_row(page, draft_id, "compliance")

    await decide(page, draft_id, "compliance", "Approve", password="not-my-password")

    assert "The password did not match. Nothing was signed." in await page.get_by_role("alert").inner_text()
    await page.screenshot(path=output_dir / "10-wrong-password.png", full_page=True)
    async with system.client("author@demo") as author:
        draft = (await author.get(f"/api/v1/drafts/{draft_id}")).json()
    compliance_stage = next(s for s in draft["stages"] if s["stage"] == "compliance")
    assert compliance_stage["status"] == "pending" and compliance_stage["decisions"] == []


async def test_no_decision_form_without_the_stages_role(
    system: RunningSystem, pages: Any, output_dir: Path
) -> None:
    draft_id = await create_and_submit(system, BODY_V2, title="Wrong role")
    compliance = await pages("compliance@demo")
    page = compliance.page
    await queue_row(page, draft_id, "compliance")

    await page.goto(f"/review/drafts/{draft_id}")
    assert await page.get_by_role("link", name="Decide legal").count() == 0
    response = await page.goto(f"/review/drafts/{draft_id}/stages/legal/decide")

    assert response.status == 403
    assert await page.get_by_role("heading", name="Not allowed").is_visible()
    assert await page.get_by_label("Password").count() == 0
    await page.screenshot(path=output_dir / "11-no-role.png", full_page=True)


async def test_markup_in_a_draft_renders_as_text_and_runs_nothing(
    system: RunningSystem, pages: Any, output_dir: Path
) -> None:
    hostile = (
        'Cardiozen news <script>alert("xss-script")</script> and '
        '"><img src=x onerror=alert("xss-img")> end. ' + SAFETY
    )
    draft_id = await create_and_submit(system, hostile, title='<script>alert("title")</script>')
    compliance = await pages("compliance@demo")
    page = compliance.page
    await queue_row(page, draft_id, "compliance")

    await page.goto(f"/review/drafts/{draft_id}")
    await page.wait_for_load_state("load")

    body_text = await page.locator(".post-body").inner_text()
    assert '<script>alert("xss-script")</script>' in body_text
    assert '"><img src=x onerror=alert("xss-img")>' in body_text
    assert await page.locator("main script, main img").count() == 0
    assert compliance.dialogs == []
    assert not [m for m in compliance.console if "xss" in m]
    await page.screenshot(path=output_dir / "12-markup-as-text.png", full_page=True)


async def test_a_cross_site_form_post_is_refused_and_changes_nothing(
    system: RunningSystem, pages: Any, output_dir: Path
) -> None:
    draft_id = await create_and_submit(system, BODY_V2, title="Cross-site")
    compliance = await pages("compliance@demo")
    page = compliance.page
    await page.goto(f"/review/drafts/{draft_id}")
    csrf = await page.locator('input[name="csrf_token"]').first.input_value()
    attacker = (
        f'<form method="post" action="{system.gateway}/review/drafts/{draft_id}/comments">'
        f'<input name="csrf_token" value="{csrf}"><input name="body" value="forged comment">'
        '<button type="submit">Win a prize</button></form>'
    )

    async def serve_attacker(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body=attacker)

    await page.route("http://attacker.invalid/**", serve_attacker)
    await page.goto("http://attacker.invalid/prize")
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Win a prize").click()
    response = await navigation.value

    assert response.status == 403
    assert "cross-site" in (await page.content()).lower()
    await page.screenshot(path=output_dir / "13-cross-site-refused.png", full_page=True)
    await page.goto(f"/review/drafts/{draft_id}")
    assert "forged comment" not in await page.locator("#comments").inner_text()


async def test_login_queue_and_draft_pages_have_no_serious_accessibility_violations(
    system: RunningSystem, pages: Any, axe_source: str
) -> None:
    draft_id = await create_and_submit(system, BODY_V1, title="Accessibility")
    visitor = await pages()
    reviewer = await pages("compliance@demo")
    await queue_row(reviewer.page, draft_id, "compliance")
    checks = [
        (visitor.page, "/review/login"),
        (reviewer.page, "/review/queue"),
        (reviewer.page, f"/review/drafts/{draft_id}"),
        (reviewer.page, f"/review/drafts/{draft_id}/stages/compliance/decide"),
    ]
    problems: list[str] = []
    for page, path in checks:
        await page.goto(path)
        await page.evaluate(axe_source)
        result = await page.evaluate("async () => await axe.run(document)")
        for violation in result["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"]][:3]
                problems.append(
                    f"{path}: {violation['id']} ({violation['impact']}) {violation['help']} {targets}"
                )
    assert problems == []


async def test_keyboard_only_sign_in_and_claim(system: RunningSystem, pages: Any) -> None:
    draft_id = await create_and_submit(system, BODY_V2, title="Keyboard")
    watched = await pages()
    page = watched.page
    await page.goto("/review/login")
    assert await page.evaluate("document.activeElement.id") == "username"  # focus starts in the form
    await page.keyboard.type("compliance@demo")
    await page.keyboard.press("Tab")
    await page.keyboard.type(DEMO_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/review/queue")
    row = await queue_row(page, draft_id, "compliance")
    await page.keyboard.press("Tab")  # the skip link comes first on every page
    assert await page.evaluate("document.activeElement.textContent") == "Skip to main content"
    claim = row.get_by_role("button", name="Claim")
    await claim.focus()
    outline = await claim.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"  # focus is visible
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/review/drafts/{draft_id}")
