"""Sign-in and signing through the organization's identity provider, in real headless Chromium.

A system of its own whose gateway trusts the test identity provider (tests/idp, node's
oidc-provider on loopback); the reviewer exists only there, in a group the role map makes a
compliance reviewer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.spine_fixtures import wait_for_status
from tests.system import RunningSystem, start_system
from tests.unit.idp_support import CLIENT_ID, CLIENT_SECRET, TestIdp, start_idp

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 60
BODY = (
    "Ask your cardiologist whether Cardiozen is right for you. It helps lower blood pressure. "
    "Cardiozen may cause dizziness, low blood pressure and, rarely, serious allergic reactions. "
    "See full Prescribing Information. Questions about your dose? Text my cell, 555-301-7788."
)


@pytest.fixture(scope="module")
def sso_system(
    temporal_dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningSystem, TestIdp]]:
    started: list[TestIdp] = []

    def oidc_env(urls: dict[str, str]) -> dict[str, str]:
        idp = start_idp(extra_redirects=[f"{urls['gateway']}/review/login/oidc/callback"])
        started.append(idp)
        return {
            "CLEARPOST_OIDC_ISSUER": idp.issuer,
            "CLEARPOST_OIDC_CLIENT_ID": CLIENT_ID,
            "CLEARPOST_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CLEARPOST_OIDC_ROLE_CLAIM": "groups",
            "CLEARPOST_OIDC_ROLE_MAP": json.dumps({"clearpost-compliance": ["compliance"]}),
        }

    try:
        with start_system("sqlite", temporal_dev_server, tmp_path_factory, extra_env=oidc_env) as running:
            yield running, started[0]
    finally:
        for idp in started:
            idp.process.terminate()
            idp.process.wait(5)


@pytest.fixture
async def page(browser: Any, sso_system: tuple[RunningSystem, TestIdp]) -> AsyncIterator[Any]:
    system, _ = sso_system
    context = await browser.new_context(base_url=system.gateway, viewport={"width": 1280, "height": 900})
    yield await context.new_page()
    await context.close()


async def at_provider(page: Any, username: str, password: str) -> None:
    try:
        await page.wait_for_selector('input[name="password"]', timeout=20_000)
    except Exception as exc:
        raise AssertionError(
            f"not at the provider's sign-in: {page.url}: {(await page.content())[:1500]}"
        ) from exc
    await page.fill('input[name="login"]', username)
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')


async def test_an_idp_only_user_signs_in_sees_its_roles_queue_and_signs_after_reauthenticating(
    sso_system: tuple[RunningSystem, TestIdp], page: Any, output_dir: Path
) -> None:
    system, idp = sso_system
    sub, password = idp.new_user(["clearpost-compliance"], name="Sasha Sso")
    async with system.client("author@demo") as author:
        created = await author.post(
            "/api/v1/drafts", json={"title": "SSO heart month", "body": BODY, "channels": ["sandbox"]}
        )
        draft_id = created.json()["id"]
        assert (await author.post(f"/api/v1/drafts/{draft_id}/submit")).status_code == 200
        await wait_for_status(author, draft_id, "in_review", wait_seconds=WAIT_SECONDS)

    await page.goto("/review/login")
    await page.get_by_role("link", name="Sign in with your organization").click()
    await at_provider(page, sub, password)
    try:
        await page.wait_for_url("**/review/queue", timeout=20_000)
    except Exception as exc:
        raise AssertionError(f"not at the queue: {page.url}: {(await page.content())[:2000]}") from exc
    assert "Sasha Sso" in await page.locator("body").inner_text()
    row = page.locator(f'tr[data-draft-id="{draft_id}"][data-stage="compliance"]')
    deadline = time.monotonic() + WAIT_SECONDS
    while await row.count() == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        await page.goto("/review/queue")
    assert "SSO heart month" in await row.inner_text()
    await page.screenshot(path=output_dir / "sso-01-queue.png", full_page=True)

    await page.goto(f"/review/drafts/{draft_id}")
    await page.get_by_role("link", name="Decide compliance").click()
    assert await page.get_by_label("Password").count() == 0  # the provider asks, not Clearpost
    await page.get_by_label("Reason").fill("Remove the personal phone number.")
    await page.get_by_role("button", name="Request changes", exact=True).click()
    # prompt=login: the provider asks for the password again although its session is fresh.
    await at_provider(page, sub, password)
    await page.wait_for_selector("h1", timeout=20_000)
    await page.get_by_role("heading", name="Signed: Changes requested").wait_for(timeout=20_000)
    record = await page.locator(".signature-record").inner_text()
    assert "identity provider" in record and "Sasha Sso" in record
    await page.screenshot(path=output_dir / "sso-02-signed.png", full_page=True)
    async with system.client("author@demo") as author:
        await wait_for_status(author, draft_id, "changes_requested", wait_seconds=WAIT_SECONDS)

    # Signing out ends the provider's session too (RP-initiated logout), then back to sign-in.
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_load_state()
    assert page.url.startswith(idp.issuer)
