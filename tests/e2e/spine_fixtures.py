"""Helpers the end-to-end suites share: a draft body, waiting for a status, deciding as a demo user."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.system import DEMO_PASSWORD, RunningSystem

SAFETY = (
    "Cardiozen may cause dizziness, low blood pressure and, rarely, serious allergic reactions. "
    "Do not take Cardiozen if you are pregnant. See full Prescribing Information."
)


BALANCED_BODY = (
    f"Ask your cardiologist whether Cardiozen is right for you. It helps lower blood pressure. {SAFETY}"
)


def draft_body(body: str = BALANCED_BODY, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Heart health month",
        "body": body,
        "channels": ["sandbox"],
        "patient_content": False,
        **extra,
    }


async def wait_for_status(
    client: httpx.AsyncClient, draft_id: str, *statuses: str, wait_seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    draft: dict[str, Any] = {}
    while time.monotonic() < deadline:
        draft = (await client.get(f"/api/v1/drafts/{draft_id}")).json()
        if draft.get("status") in statuses:
            return draft
        await asyncio.sleep(0.2)
    raise AssertionError(f"draft {draft_id} never reached {statuses}; last: {draft}")


async def submitted_draft(system: RunningSystem, author: str, body: str = BALANCED_BODY) -> dict[str, Any]:
    async with system.client(author) as client:
        created = await client.post("/api/v1/drafts", json=draft_body(body))
        assert created.status_code == 201, created.text
        draft = created.json()
        submitted = await client.post(f"/api/v1/drafts/{draft['id']}/submit")
        assert submitted.status_code == 200, submitted.text
        return await wait_for_status(client, draft["id"], "in_review")


async def decide(
    system: RunningSystem,
    who: str,
    draft: dict[str, Any],
    stage: str,
    decision: str = "approve",
    *,
    password: str = DEMO_PASSWORD,
    content_hash: str | None = None,
    reason: str = "",
) -> httpx.Response:
    async with system.client(who) as client:
        return await client.post(
            f"/api/v1/reviews/{draft['id']}/decisions",
            json={
                "stage": stage,
                "decision": decision,
                "reason": reason,
                "password": password,
                "content_hash": content_hash or draft["content_hash"],
            },
        )
