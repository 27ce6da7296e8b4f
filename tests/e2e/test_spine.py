"""The spine end to end over HTTP: submit, screen, role-gated approval, publish once, audit chain."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from services.kit.canonical import content_hash
from services.kit.settings import KitSettings
from services.kit.temporal import data_converter
from services.kit.tokens import Principal, issue_access_token, load_or_create_signing_key
from tests.e2e.spine_fixtures import BALANCED_BODY, decide, draft_body, submitted_draft, wait_for_status
from tests.system import RunningSystem
from workflows.contracts import (
    POST_APPROVAL_WORKFLOW,
    SUBMIT_VERSION_SIGNAL,
    WORKFLOW_TASK_QUEUE,
    PostApprovalInput,
    VersionSubmitted,
    workflow_id_for,
)

pytestmark = pytest.mark.e2e


async def test_approved_post_is_published_once_and_audited(system: RunningSystem) -> None:
    async with system.client("author@demo") as author:
        created = await author.post("/api/v1/drafts", json=draft_body())
        assert created.status_code == 201, created.text
        draft = created.json()
        assert draft["version"] == 1 and draft["status"] == "draft"
        assert draft["content_hash"] == content_hash(
            title="Heart health month", body=BALANCED_BODY, channels=["sandbox"], media_digests=[]
        )
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200
        draft = await wait_for_status(author, draft["id"], "in_review")
    assert [s["stage"] for s in draft["stages"]] == ["compliance", "legal"]
    assert all(s["status"] == "pending" for s in draft["stages"])

    async with system.client("compliance@demo") as reviewer:
        queue = (await reviewer.get("/api/v1/reviews/queue")).json()["tasks"]
        assert any(t["draft_id"] == draft["id"] and t["stage"] == "compliance" for t in queue)

    wrong_password = await decide(system, "compliance@demo", draft, "compliance", password="not-my-password")
    assert wrong_password.status_code == 403 and wrong_password.json()["error"] == "signature_failed"
    stale = await decide(system, "compliance@demo", draft, "compliance", content_hash="0" * 64)
    assert stale.status_code == 409 and "content changed" in stale.json()["detail"]
    no_role = await decide(system, "medical@demo", draft, "compliance")
    assert no_role.status_code == 403
    async with system.client("author@demo") as author:
        unchanged = await wait_for_status(author, draft["id"], "in_review")
    assert all(not s["decisions"] for s in unchanged["stages"]), "refused decisions change nothing"

    approved = await decide(system, "compliance@demo", draft, "compliance")
    assert approved.status_code == 200, approved.text
    assert approved.json()["stage_status"] == "approved"
    approved = await decide(system, "legal@demo", draft, "legal")
    assert approved.status_code == 200, approved.text

    async with system.client("author@demo") as author:
        published = await wait_for_status(author, draft["id"], "published", "publish_failed")
        assert published["status"] == "published", published
        decisions = [d for s in published["stages"] for d in s["decisions"]]
        assert {d["content_hash"] for d in decisions} == {draft["content_hash"]}
        publications = (await author.get("/api/v1/publications", params={"draft_id": draft["id"]})).json()
    assert [p["channel"] for p in publications["publications"]] == ["sandbox"]
    outbox = (system.var_dir / "outbox" / "sandbox.jsonl").read_text().splitlines()
    lines = [json.loads(line) for line in outbox if line.strip()]
    assert [line["draft_id"] for line in lines].count(draft["id"]) == 1

    async with system.client("auditor@demo") as auditor:
        events = (await auditor.get("/api/v1/audit/events", params={"draft_id": draft["id"]})).json()[
            "events"
        ]
        actions = [e["action"] for e in events]
        verified = (await auditor.get("/api/v1/audit/verify")).json()
    for expected in (
        "draft.created",
        "draft.submitted",
        "screening.completed",
        "review.opened",
        "decision.refused",
        "decision.recorded",
        "draft.approved",
        "post.published",
    ):
        assert expected in actions, f"{expected} missing from {actions}"
    assert actions.index("draft.approved") < actions.index("post.published")
    assert verified["ok"] is True, verified
    async with system.client("author@demo") as author:
        assert (await author.get("/api/v1/audit/events", params={"draft_id": draft["id"]})).status_code == 403


async def test_author_reviewer_may_not_approve_own_draft(system: RunningSystem) -> None:
    draft = await submitted_draft(system, "authorreviewer@demo")
    refused = await decide(system, "authorreviewer@demo", draft, "compliance")
    assert refused.status_code == 403
    assert "author" in refused.json()["detail"]


async def test_one_person_decides_one_stage(system: RunningSystem) -> None:
    # A benefit claim without the safety statement draws an FDA finding: legal and medical stages.
    draft = await submitted_draft(
        system, "author2@demo", body="Cardiozen lowers blood pressure in two weeks!"
    )
    assert {s["stage"] for s in draft["stages"]} == {"compliance", "legal", "medical"}
    first = await decide(system, "dual@demo", draft, "legal")
    assert first.status_code == 200, first.text
    second = await decide(system, "dual@demo", draft, "medical")
    assert second.status_code == 403
    assert "one person decides one stage" in second.json()["detail"]


async def test_request_changes_then_new_version_is_reviewed_again(system: RunningSystem) -> None:
    draft = await submitted_draft(system, "author@demo")
    asked = await decide(
        system, "compliance@demo", draft, "compliance", "request_changes", reason="Add a date"
    )
    assert asked.status_code == 200, asked.text
    async with system.client("author@demo") as author:
        await wait_for_status(author, draft["id"], "changes_requested")
        revised = await author.put(
            f"/api/v1/drafts/{draft['id']}", json=draft_body(BALANCED_BODY + " Updated.")
        )
        assert revised.status_code == 200, revised.text
        assert revised.json()["version"] == 2
        assert (await author.post(f"/api/v1/drafts/{draft['id']}/submit")).status_code == 200
        second = await wait_for_status(author, draft["id"], "in_review")
    assert second["content_hash"] != draft["content_hash"]
    old = await decide(system, "compliance@demo", draft, "compliance")
    assert old.status_code == 409


async def test_bad_input_gets_a_clear_error(system: RunningSystem) -> None:
    async with system.client("author@demo") as author:
        unknown_channel = await author.post("/api/v1/drafts", json=draft_body(channels=["myspace"]))
        assert unknown_channel.status_code == 400 and "myspace" in unknown_channel.json()["detail"]
        missing = await author.post("/api/v1/drafts", json={"title": "x"})
        assert missing.status_code == 422 and missing.json()["error"] == "invalid"
    async with system.client("legal@demo") as legal:
        not_author = await legal.post("/api/v1/drafts", json=draft_body())
        assert not_author.status_code == 403


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def test_bad_tokens_are_refused_by_every_service(system: RunningSystem, tmp_path: Any) -> None:
    real_key = load_or_create_signing_key(system.var_dir / "keys" / "gateway-signing.pem")
    principal = Principal("someone", "author@demo", "Someone", frozenset({"author", "auditor", "admin"}))
    expired = issue_access_token(
        real_key,
        issuer="clearpost-gateway",
        audience="clearpost",
        principal=principal,
        ttl_seconds=60,
        now=time.time() - 3600,
    )
    other_key = load_or_create_signing_key(tmp_path / "other.pem")
    forged_key = type(other_key)(
        kid=real_key.kid, private_pem=other_key.private_pem, public_jwk=other_key.public_jwk
    )
    wrongly_signed = issue_access_token(
        forged_key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=600
    )
    now = int(time.time())
    unsigned = _forge(
        {"alg": "none", "typ": "at+jwt", "kid": real_key.kid},
        {
            "sub": "someone",
            "iss": "clearpost-gateway",
            "aud": "clearpost",
            "iat": now,
            "exp": now + 600,
            "roles": ["admin", "auditor", "author"],
        },
    )
    routes = {
        "gateway": "/api/v1/users",
        "drafts": "/api/v1/drafts",
        "review": "/api/v1/reviews/queue",
        "publisher": "/api/v1/channels",
        "audit": "/api/v1/audit/events",
    }
    for token in (expired, wrongly_signed, unsigned, "not-a-token"):
        for service, path in routes.items():
            for base in {system.urls[service], system.gateway}:
                response = httpx.get(
                    f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
                )
                assert response.status_code == 401, (service, base, path, response.text)


async def test_a_direct_temporal_start_with_a_forged_author_publishes_nothing(
    system: RunningSystem,
) -> None:
    """Attack: an author who also reviews starts the approval workflow straight on Temporal,
    naming someone else as the author, then approves their own post through the public API."""
    drafts = []
    async with system.client("authorreviewer@demo") as attacker:
        for _ in range(2):
            created = await attacker.post("/api/v1/drafts", json=draft_body())
            assert created.status_code == 201, created.text
            drafts.append(created.json())

    def forged_start(draft: dict[str, Any]) -> tuple[Any, ...]:
        submitted = VersionSubmitted(draft["version"], draft["content_hash"], ["sandbox"], False, "u-nobody")
        return (
            POST_APPROVAL_WORKFLOW,
            PostApprovalInput(draft_id=draft["id"], author_id="someone-else"),
        ), {
            "id": workflow_id_for(draft["id"]),
            "task_queue": WORKFLOW_TASK_QUEUE,
            "start_signal": SUBMIT_VERSION_SIGNAL,
            "start_signal_args": [submitted],
        }

    # Without the payload key: the worker refuses the unencrypted input, so the workflow never runs.
    args, options = forged_start(drafts[0])
    plain = await system.temporal.start_workflow(*args, **options)
    deadline = time.monotonic() + 30
    events: list[str] = []
    while time.monotonic() < deadline and "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in events:
        history = await plain.fetch_history()
        events = [EventType.Name(e.event_type) for e in history.events]
        await asyncio.sleep(0.2)
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" in events, events
    assert "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" not in events
    await plain.terminate("test over")

    # With the payload key: the workflow runs, but the author that counts is the drafts service's.
    keyed = await Client.connect(
        system.env["CLEARPOST_TEMPORAL_ADDRESS"],
        namespace=system.namespace,
        data_converter=data_converter(KitSettings(var_dir=system.var_dir)),
    )
    args, options = forged_start(drafts[1])
    await keyed.start_workflow(*args, **options)
    async with system.client("authorreviewer@demo") as attacker:
        in_review = await wait_for_status(attacker, drafts[1]["id"], "in_review")
        queue = (await attacker.get("/api/v1/reviews/queue")).json()["tasks"]
    assert all(t["draft_id"] != drafts[1]["id"] for t in queue)  # their own draft, whatever Temporal says
    own = await decide(system, "authorreviewer@demo", in_review, "compliance")
    assert own.status_code == 403 and "author" in own.json()["detail"]
    async with system.client("compliance@demo") as reviewer:
        tasks = (await reviewer.get("/api/v1/reviews/queue")).json()["tasks"]
        [task] = [t for t in tasks if t["draft_id"] == drafts[1]["id"] and t["stage"] == "compliance"]
        assert task["author_id"] == drafts[1]["author_id"]
        draft = (await reviewer.get(f"/api/v1/drafts/{drafts[1]['id']}")).json()
    assert draft["status"] == "in_review" and all(not s["decisions"] for s in draft["stages"])
    outbox = system.var_dir / "outbox" / "sandbox.jsonl"
    posted = outbox.read_text() if outbox.exists() else ""
    assert drafts[0]["id"] not in posted and drafts[1]["id"] not in posted
