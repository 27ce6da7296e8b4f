"""An approved draft's trail, exported through the gateway and verified offline with the pinned key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.audit.cli import app as audit_cli
from services.audit.offline import verify_export
from services.audit.signed_formats import load_public_keys
from tests.e2e.spine_fixtures import decide, draft_body, wait_for_status
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e


async def test_an_approved_drafts_trail_exports_and_verifies_offline(
    system: RunningSystem, tmp_path: Path
) -> None:
    async with system.client("author@demo") as author:
        created = await author.post("/api/v1/drafts", json=draft_body())
        assert created.status_code == 201, created.text
        draft = created.json()
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200
        draft = await wait_for_status(author, draft["id"], "in_review")
    for reviewer, stage in (("compliance@demo", "compliance"), ("legal@demo", "legal")):
        decided = await decide(system, reviewer, draft, stage)
        assert decided.status_code == 200, decided.text
    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft["id"], "published", "publish_failed")
        assert published["status"] == "published", published
        refused = await author.get("/api/v1/audit/export", params={"draft_id": draft["id"]})
        assert refused.status_code == 403

    async with system.client() as anonymous:  # the key is public: pin it once
        key_file = tmp_path / "audit-key.json"
        key_file.write_bytes((await anonymous.get("/api/v1/audit/public-key")).content)
    async with system.client("auditor@demo") as auditor:
        exported = await auditor.get(
            "/api/v1/audit/export", params={"draft_id": draft["id"], "reason": "e2e inspection"}
        )
        pdf = await auditor.get(f"/api/v1/audit/drafts/{draft['id']}/approval-record.pdf")
        recorded = (await auditor.get("/api/v1/audit/events", params={"action": "audit.exported"})).json()
    assert exported.status_code == 200, exported.text
    export_file = tmp_path / "draft.jsonl"
    export_file.write_bytes(exported.content)

    report = verify_export(export_file.read_bytes().splitlines(), load_public_keys(key_file))
    entries = [json.loads(json.loads(line)["entry"]) for line in export_file.read_bytes().splitlines()[1:-1]]
    actions = [e["action"] for e in entries]
    assert report.authenticity_checked and report.events == len(entries) >= 8
    assert report.filter["draft_id"] == draft["id"]
    for expected in (
        "draft.created",
        "draft.submitted",
        "decision.recorded",
        "draft.approved",
        "post.published",
    ):
        assert expected in actions, f"{expected} missing from {actions}"
    signatures = [e for e in entries if e["action"] == "decision.recorded"]
    assert {s["actor_name"] for s in signatures} == {"Lena Legal", "Casey Compliance"}  # printed names
    assert {s["content_hash"] for s in signatures} == {draft["content_hash"]}

    cli = CliRunner().invoke(audit_cli, ["verify", str(export_file), "--key", str(key_file)])
    assert cli.exit_code == 0, cli.output
    assert f"events verified : {report.events}" in cli.output

    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert any(e["reason"] == "e2e inspection" for e in recorded["events"])
