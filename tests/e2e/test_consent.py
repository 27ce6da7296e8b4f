"""Consent records and media end to end: the running system, over HTTP.

Everything goes through the gateway, as a user would drive it; the workflow's consent gate
(`check_consent` after screening and before publishing, the `consent_revoked` signal) decides.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.spine_fixtures import decide, draft_body, wait_for_status
from tests.system import RunningSystem
from tests.unit.consent_fixtures import record

# The whole system on SQLite only: the PostgreSQL system runs the spine, operations, audit and
# offboarding suites; this one would double `make test` for little (its storage is unit-tested on both).
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["sqlite"], indirect=True)]

FACE = Path(__file__).parents[1] / "fixtures" / "images" / "astronaut-face.jpg"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
STORY = {
    "title": "Maria's story",
    "body": "After her knee surgery Maria walked the 5K with our rehab team. We are proud of her!",
    "channels": ["sandbox"],
    "patient_content": True,
}


def gps_jpeg() -> bytes:
    image = Image.new("RGB", (64, 48), (30, 120, 200))
    exif = Image.Exif()
    exif[0x013B] = "Jane Patient"
    exif.get_ifd(0x8825).update({1: "N", 2: (40.0, 44.0, 54.36), 3: "W", 4: (73.0, 59.0, 8.5)})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def consents_client(system: RunningSystem, user: str = "compliance@demo") -> httpx.AsyncClient:
    return system.client(user)


async def new_consent(system: RunningSystem, **overrides: Any) -> dict[str, Any]:
    fields = record(**{"patient_ref": f"MRN-{time.monotonic_ns()}", **overrides})
    async with consents_client(system) as client:
        response = await client.post(
            "/api/v1/consents", data={"record": json.dumps(fields)}, files={"form": ("form.pdf", PDF)}
        )
    assert response.status_code == 201, response.text
    consent: dict[str, Any] = response.json()
    return consent


async def create_draft(author: httpx.AsyncClient, content: dict[str, Any]) -> dict[str, Any]:
    created = await author.post("/api/v1/drafts", json=content)
    assert created.status_code == 201, created.text
    draft: dict[str, Any] = created.json()
    return draft


async def submit_and_approve(system: RunningSystem, draft_id: str) -> dict[str, Any]:
    async with system.client("author@demo") as author:
        assert (await author.post(f"/api/v1/drafts/{draft_id}/submit")).status_code == 200
        draft = await wait_for_status(author, draft_id, "in_review")
    for stage in [s["stage"] for s in draft["stages"]]:
        reviewer = {"compliance": "compliance@demo", "legal": "legal@demo", "medical": "medical@demo"}[stage]
        decided = await decide(system, reviewer, draft, stage)
        assert decided.status_code == 200, decided.text
    return draft


async def never_published(system: RunningSystem, draft_id: str, *, wait_seconds: float) -> dict[str, Any]:
    """Wait the given time; the draft must not be published meanwhile (nor after)."""
    deadline = time.monotonic() + wait_seconds
    async with system.client("author@demo") as author:
        while True:  # looked at least once, even when signing in took the whole wait (a busy machine)
            draft: dict[str, Any] = (await author.get(f"/api/v1/drafts/{draft_id}")).json()
            assert draft["status"] != "published", draft
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        publications = (await author.get("/api/v1/publications", params={"draft_id": draft_id})).json()
    assert publications["publications"] == []
    return draft


async def refused_for_consent(system: RunningSystem, draft_id: str) -> dict[str, Any]:
    """The gate refused after screening: out of review, with the reason on the draft."""
    deadline = time.monotonic() + 30
    draft: dict[str, Any] = {}
    async with system.client("author@demo") as author:
        while time.monotonic() < deadline:
            draft = (await author.get(f"/api/v1/drafts/{draft_id}")).json()
            if draft["status"] not in ("draft", "screening", "in_review") and "consent" in draft["note"]:
                return draft
            await asyncio.sleep(0.3)
    raise AssertionError(f"draft {draft_id} was not refused for consent: {draft}")


# --- records and media (drafts service) ---------------------------------------------------------


async def test_consent_records_are_for_compliance_and_every_read_is_audited(system: RunningSystem) -> None:
    consent = await new_consent(system)
    async with consents_client(system) as client:
        one = await client.get(f"/api/v1/consents/{consent['id']}")
        listed = await client.get("/api/v1/consents", params={"patient_ref": consent["patient_ref"]})
        form = await client.get(f"/api/v1/consents/{consent['id']}/form")
    async with consents_client(system, "legal@demo") as legal:
        refused = await legal.get(f"/api/v1/consents/{consent['id']}")

    assert one.status_code == 200 and one.json()["first_name"] == "Maria"
    assert [c["id"] for c in listed.json()["consents"]] == [consent["id"]]
    assert form.content == PDF and form.headers["content-type"] == "application/pdf"
    assert refused.status_code == 403
    async with system.client("auditor@demo") as auditor:
        actions = {}
        for action in ("consent.created", "consent.read", "consent.listed", "consent.form_read"):
            found = (
                await auditor.get("/api/v1/audit/events", params={"action": action, "limit": 500})
            ).json()
            actions[action] = [e for e in found["events"] if consent["id"] in json.dumps(e)]
    assert all(actions.values()), actions


async def test_the_gateway_forwards_consent_routes(system: RunningSystem) -> None:
    async with system.client("compliance@demo") as client:
        listed = await client.get("/api/v1/consents")
    async with system.client("publisher@demo") as client:
        takedowns = await client.get("/api/v1/takedowns")
    assert (listed.status_code, takedowns.status_code) == (200, 200)


async def test_a_jpeg_with_gps_exif_is_stored_and_published_without_it(system: RunningSystem) -> None:
    raw = gps_jpeg()
    assert b"Jane Patient" in raw
    async with system.client("author@demo") as author:
        draft = await create_draft(author, draft_body())
        uploaded = await author.post(
            f"/api/v1/drafts/{draft['id']}/media", files={"file": ("IMG_0001.jpg", raw, "image/jpeg")}
        )
        assert uploaded.status_code == 201, uploaded.text
        (item,) = uploaded.json()["media"]
        stored = await author.get(f"/api/v1/drafts/{draft['id']}/media/{item['digest']}")
    assert stored.status_code == 200, stored.text
    assert item["faces"] == [] and uploaded.json()["content_hash"] != draft["content_hash"]
    assert b"Jane Patient" not in stored.content and not Image.open(io.BytesIO(stored.content)).getexif()

    await submit_and_approve(system, draft["id"])

    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft["id"], "published", "publish_failed")
    assert published["status"] == "published", published
    lines = [
        json.loads(x) for x in (system.var_dir / "outbox" / "sandbox.jsonl").read_text().splitlines() if x
    ]
    (line,) = [x for x in lines if x["draft_id"] == draft["id"]]
    assert [m["digest"] for m in line["media"]] == [item["digest"]]
    sent = (system.var_dir / "outbox" / line["media"][0]["path"]).read_bytes()
    assert sent == stored.content and b"Jane Patient" not in sent and b"Exif" not in sent


@pytest.mark.parametrize(
    "raw",
    [b"MZ\x90\x00\x03" + b"\x00" * 300, b"<!doctype html><script>alert(1)</script>"],
    ids=["executable", "html"],
)
async def test_a_jpg_that_is_not_an_image_is_refused(system: RunningSystem, raw: bytes) -> None:
    async with system.client("author@demo") as author:
        draft = await create_draft(author, draft_body())
        response = await author.post(
            f"/api/v1/drafts/{draft['id']}/media", files={"file": ("photo.jpg", raw, "image/jpeg")}
        )
    assert response.status_code == 415, response.text
    assert response.json()["error"] == "unsupported_media_type"


async def test_a_face_in_an_uploaded_photo_is_detected_and_counts_as_patient_content(
    system: RunningSystem,
) -> None:
    async with system.client("author@demo") as author:
        draft = await create_draft(author, draft_body())
        uploaded = await author.post(
            f"/api/v1/drafts/{draft['id']}/media",
            files={"file": ("team.jpg", FACE.read_bytes(), "image/jpeg")},
        )
    (item,) = uploaded.json()["media"]
    assert len(item["faces"]) >= 1 and item["patient"] is True


# --- the gate and revocation ------------------------------------------------------------------------


async def test_a_patient_story_with_consent_publishes(system: RunningSystem) -> None:
    consent = await new_consent(system)
    async with system.client("author@demo") as author:
        draft = await create_draft(author, {**STORY, "consent_ids": [consent["id"]]})

    await submit_and_approve(system, draft["id"])

    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft["id"], "published", "publish_failed")
    assert published["status"] == "published", published


async def test_revoking_after_publishing_takes_the_post_down_through_the_publisher(
    system: RunningSystem,
) -> None:
    consent = await new_consent(system)
    async with system.client("author@demo") as author:
        draft = await create_draft(author, {**STORY, "consent_ids": [consent["id"]]})
    await submit_and_approve(system, draft["id"])
    async with system.client("author@demo") as author:
        assert (await wait_for_status(author, draft["id"], "published"))["status"] == "published"

    async with consents_client(system) as client:
        revoked = await client.post(
            f"/api/v1/consents/{consent['id']}/revoke", json={"reason": "patient asked"}
        )
    assert revoked.status_code == 200, revoked.text
    assert [(e["draft_id"], e["action"]) for e in revoked.json()["effects"]] == [
        (draft["id"], "takedown_required")
    ]

    # The publisher takes it down from every channel it went to, and the task closes on its own.
    async with system.client("author@demo") as author:
        down = await wait_for_status(author, draft["id"], "taken_down")
    assert "consent revoked" in down["note"]
    async with consents_client(system, "publisher@demo") as publisher:
        tasks = (await publisher.get("/api/v1/takedowns", params={"draft_id": draft["id"]})).json()[
            "takedowns"
        ]
        publications = (await publisher.get("/api/v1/publications", params={"draft_id": draft["id"]})).json()[
            "publications"
        ]
    assert [(t["consent_id"], t["status"]) for t in tasks] == [(consent["id"], "done")]
    assert publications and all(p["status"] == "removed" and p["removal"] for p in publications)
    async with system.client("auditor@demo") as auditor:
        events = (await auditor.get("/api/v1/audit/events", params={"draft_id": draft["id"]})).json()[
            "events"
        ]
    actions = [e["action"] for e in events]
    assert actions.index("post.takedown_required") < actions.index("post.takedown_requested")
    assert actions.index("post.removed_from_channel") < actions.index("post.taken_down")


async def test_a_patient_story_without_consent_is_refused_and_says_why(system: RunningSystem) -> None:
    async with system.client("author@demo") as author:
        draft = await create_draft(author, STORY)
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200

    refused = await refused_for_consent(system, draft["id"])

    assert "names none" in refused["note"]


async def test_an_expired_consent_does_not_let_a_story_through(system: RunningSystem) -> None:
    consent = await new_consent(system, collected_on="2024-01-01", expires_on="2024-12-31")
    async with system.client("author@demo") as author:
        draft = await create_draft(author, {**STORY, "consent_ids": [consent["id"]]})
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200

    refused = await refused_for_consent(system, draft["id"])

    assert f"consent {consent['id']} expired" in refused["note"]


async def test_a_photo_the_consent_does_not_cover_stops_the_post(system: RunningSystem) -> None:
    consent = await new_consent(system)  # covers the story and the channel, names no photo
    async with system.client("author@demo") as author:
        draft = await create_draft(author, {**STORY, "consent_ids": [consent["id"]]})
        uploaded = await author.post(
            f"/api/v1/drafts/{draft['id']}/media",
            files={"file": ("maria.jpg", FACE.read_bytes(), "image/jpeg")},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200

    refused = await refused_for_consent(system, draft["id"])

    assert "shows a face and no valid consent covers it" in refused["note"]
    await never_published(system, draft["id"], wait_seconds=1)
    # The screening names the image: one consent_missing finding for it, shown to the author too.
    digest = uploaded.json()["media"][0]["digest"]
    async with system.client("author@demo") as author:
        response = await author.get(f"/api/v1/reviews/{draft['id']}/findings")
    assert response.status_code == 200, response.text
    findings = response.json()
    assert findings["under_review"] is False and findings["version"] == refused["version"]
    [image] = [f for f in findings["findings"] if f["media_digest"]]
    assert (image["category"], image["severity"], image["media_digest"]) == (
        "consent_missing",
        "block",
        digest,
    )
    assert image["rule"] == "consent.media.not_named" and digest[:12] in image["explanation"]


async def test_revoking_before_the_scheduled_time_stops_the_publish(system: RunningSystem) -> None:
    consent = await new_consent(system)
    scheduled_at = (datetime.now(UTC) + timedelta(seconds=25)).isoformat()
    async with system.client("author@demo") as author:
        draft = await create_draft(
            author, {**STORY, "consent_ids": [consent["id"]], "scheduled_at": scheduled_at}
        )
    await submit_and_approve(system, draft["id"])
    async with system.client("author@demo") as author:
        assert (await wait_for_status(author, draft["id"], "scheduled"))["status"] == "scheduled"

    async with consents_client(system) as client:
        revoked = await client.post(
            f"/api/v1/consents/{consent['id']}/revoke", json={"reason": "patient asked"}
        )
    assert [e["action"] for e in revoked.json()["effects"]] == ["sent_back_to_review"]

    seconds_left = (datetime.fromisoformat(scheduled_at) - datetime.now(UTC)).total_seconds()
    final = await never_published(system, draft["id"], wait_seconds=max(seconds_left, 0) + 5)
    assert final["status"] != "scheduled" and consent["id"] in final["note"]


# --- every target channel ---------------------------------------------------------------------------


def webhook_posts(system: RunningSystem, draft_id: str) -> list[dict[str, Any]]:
    return [p.json for p in system.webhook.posts() if p.json["draft_id"] == draft_id]


async def test_a_consent_that_does_not_cover_every_target_channel_stops_the_post(
    system: RunningSystem,
) -> None:
    consent = await new_consent(system, channels=["sandbox"])
    async with system.client("author@demo") as author:
        draft = await create_draft(
            author, {**STORY, "channels": ["sandbox", "webhook"], "consent_ids": [consent["id"]]}
        )
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200

    refused = await refused_for_consent(system, draft["id"])

    assert f"consent {consent['id']} does not cover channel webhook" in refused["note"]
    await never_published(system, draft["id"], wait_seconds=1)
    assert webhook_posts(system, draft["id"]) == []


async def test_a_consent_covering_both_channels_publishes_to_both(system: RunningSystem) -> None:
    consent = await new_consent(system, channels=["sandbox", "webhook"])
    async with system.client("author@demo") as author:
        draft = await create_draft(
            author, {**STORY, "channels": ["sandbox", "webhook"], "consent_ids": [consent["id"]]}
        )

    await submit_and_approve(system, draft["id"])

    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft["id"], "published", "publish_failed")
        listed = (await author.get("/api/v1/publications", params={"draft_id": draft["id"]})).json()
    assert published["status"] == "published", published
    publications = {p["channel"]: p for p in listed["publications"]}
    assert sorted(publications) == ["sandbox", "webhook"]
    [post] = [p for p in system.webhook.posts() if p.json["draft_id"] == draft["id"]]
    assert post.signature_ok  # the receiver recomputed the HMAC with the shared secret
    assert post.json["publication_id"] == publications["webhook"]["id"]
    assert (post.json["content_hash"], post.json["body"]) == (published["content_hash"], STORY["body"])
    assert publications["webhook"]["external_id"].startswith("webhook:rcv-")
