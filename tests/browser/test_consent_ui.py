"""Consent records and a draft's images in real headless Chromium against the running system (SQLite).

Compliance records a consent with its signed form, the author attaches a photo to a draft and names
the consent, both see it on the draft page, and compliance revokes the consent. axe-core checks the
new pages.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.browser import test_review_ui as base
from tests.system import RunningSystem

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

pages = base.pages  # one browser context per user, closed after the test
SIGNED_FORM = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def photo() -> bytes:
    """A small PNG made here (no face in it: shapes only)."""
    image = Image.new("RGB", (96, 64), (235, 240, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 50, 54), fill=(11, 79, 156))
    draw.ellipse((56, 14, 88, 46), fill=(29, 107, 53))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def axe_problems(page: Any, axe_source: str) -> list[str]:
    await page.evaluate(axe_source)
    result = await page.evaluate("async () => await axe.run(document)")
    return [
        f"{page.url}: {v['id']} ({v['impact']}) {v['help']} {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_consent_recorded_photo_attached_consent_named_and_revoked(
    system: RunningSystem, pages: Any, output_dir: Path, axe_source: str
) -> None:
    problems: list[str] = []

    # The author writes the draft on the New draft page.
    author = await pages("author@demo")
    page = author.page
    await page.goto("/review/my")
    await page.get_by_role("link", name="New draft").click()
    await page.wait_for_url("**/review/drafts/new")
    problems += await axe_problems(page, axe_source)
    await page.get_by_label("Title").fill("Jane's recovery")
    await page.get_by_label("Post text").fill(
        "Jane walked again three weeks after her surgery. Thank you to our rehab team!"
    )
    await page.get_by_label("sandbox", exact=True).check()
    await page.get_by_label("It tells a patient's story or names a patient").check()
    await page.get_by_role("button", name="Save draft").click()
    await page.wait_for_url(re.compile(r".*/review/drafts/[0-9a-f-]{36}$"))
    draft_id = page.url.rsplit("/", 1)[1]
    assert "Jane's recovery" in await page.locator("h1").inner_text()

    # Compliance records the consent, with the signed form, from the Consents page.
    compliance = await pages("compliance@demo")
    page = compliance.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Consents").click()
    await page.wait_for_url("**/review/consents")
    problems += await axe_problems(page, axe_source)
    await page.get_by_role("link", name="New consent record").click()
    await page.wait_for_url("**/review/consents/new")
    problems += await axe_problems(page, axe_source)
    today = datetime.now(UTC).date()
    await page.get_by_label("Patient reference").fill("MRN-BROWSER-1")
    await page.get_by_label("First name", exact=True).fill("Jane")
    await page.get_by_label("Last name (optional)").fill("Doe")
    await page.get_by_label("First name only").check()
    await page.get_by_label("The patient's story may be told").check()
    await page.get_by_label("sandbox", exact=True).check()
    await page.get_by_label("Collected on").fill(today.isoformat())
    await page.get_by_label("Valid through (expiry date)").fill((today + timedelta(days=365)).isoformat())
    await page.get_by_label(re.compile(r"^Signed form")).set_input_files(
        {"name": "signed-consent.pdf", "mimeType": "application/pdf", "buffer": SIGNED_FORM}
    )
    await page.screenshot(path=output_dir / "20-consent-new.png", full_page=True)
    await page.get_by_role("button", name="Record consent").click()
    await page.wait_for_url("**/review/consents/*?created=1")
    assert "Consent recorded." in await page.get_by_role("status").inner_text()
    consent_id = (await page.locator("h1 code").inner_text()).strip()
    record = await page.locator("dl.record").inner_text()
    assert "MRN-BROWSER-1" in record and "Jane Doe" in record and "first name only" in record
    assert "active" in record and "application/pdf" in record
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "21-consent-recorded.png", full_page=True)
    await page.goto("/review/consents")
    row = page.locator(f'tr[data-consent-id="{consent_id}"]')
    assert "active" in await row.inner_text() and "sandbox" in await row.inner_text()

    # The author attaches a photo; a page named .jpg is refused with the drafts service's reason.
    page = author.page
    await page.goto(f"/review/drafts/{draft_id}")
    upload = page.get_by_role("form", name="Add an image")
    await upload.get_by_label("Consent record id covering the new image (optional)").fill(consent_id)
    await upload.get_by_label(re.compile(r"^Image file")).set_input_files(
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": b"<!doctype html><p>not a photo</p>"}
    )
    await upload.get_by_role("button", name="Upload image").click()
    await page.wait_for_load_state()
    refusal = await page.locator("#media-error").inner_text()
    assert "not a JPEG, PNG or WebP image" in refusal
    kept = page.get_by_label("Consent record id covering the new image (optional)")
    assert await kept.input_value() == consent_id
    await page.screenshot(path=output_dir / "22-upload-refused.png", full_page=True)

    await upload.get_by_label(re.compile(r"^Image file")).set_input_files(
        {"name": "team.png", "mimeType": "image/png", "buffer": photo()}
    )
    await upload.get_by_role("button", name="Upload image").click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}#media")
    image = page.locator("ul.media img")
    assert await image.count() == 1
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 96  # served through the UI
    item = page.locator("ul.media li")
    assert f"Consent named for it: {consent_id}." in await item.inner_text()

    await page.get_by_label("Consent record ids the draft relies on").fill(consent_id)
    await page.get_by_role("button", name="Save without submitting").click()
    await page.wait_for_url(f"**/review/drafts/{draft_id}")
    consents = page.get_by_role("table", name="Consent records this draft relies on")
    row_text = await consents.locator("tbody tr").first.inner_text()
    assert consent_id in row_text and "active" in row_text and "first name only" in row_text
    assert await page.locator("ul.media img").count() == 1
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "23-draft-with-photo-and-consent.png", full_page=True)

    # Compliance sees the same on the draft page, linked to the record, and revokes the consent.
    page = compliance.page
    await page.goto(f"/review/drafts/{draft_id}")
    assert f"Consent named for it: {consent_id}." in await page.locator("ul.media li").inner_text()
    problems += await axe_problems(page, axe_source)
    await (
        page.get_by_role("table", name="Consent records this draft relies on")
        .get_by_role("link", name=consent_id)
        .click()
    )
    await page.wait_for_url(f"**/review/consents/{consent_id}")
    await page.get_by_label("Reason").fill("The patient withdrew her consent by phone.")
    await page.get_by_label("I confirm: revoke this consent now").check()
    await page.get_by_role("button", name="Revoke consent").click()
    await page.wait_for_load_state()
    effects = await page.get_by_role("table").first.inner_text()
    assert draft_id in effects and "Withdrawn" in effects
    assert "revoked" in await page.locator("dl.record").inner_text()
    problems += await axe_problems(page, axe_source)
    await page.screenshot(path=output_dir / "24-consent-revoked.png", full_page=True)

    async with system.client("author@demo") as author_api:
        assert (await author_api.get(f"/api/v1/drafts/{draft_id}")).json()["status"] == "withdrawn"
    assert problems == []
    assert compliance.dialogs == [] and author.dialogs == []


async def test_authors_get_no_consent_pages(system: RunningSystem, pages: Any) -> None:
    author = await pages("author@demo")
    page = author.page

    assert await page.get_by_role("navigation", name="Main").get_by_role("link", name="Consents").count() == 0
    response = await page.goto("/review/consents/new")

    assert response.status == 403
    assert await page.get_by_role("heading", name="Not allowed").is_visible()
    assert await page.get_by_label("Patient reference").count() == 0
