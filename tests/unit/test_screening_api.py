"""Screening through the review service: the endpoint, stored findings, overrides and the approval gate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.kit.tokens import Principal
from services.review.models import FindingOverride
from tests.database import DatabaseFactory
from tests.unit.review_fixtures import FakeChannelStates
from tests.unit.screening_fixtures import (
    AUTHOR,
    COMPLIANCE,
    LEGAL,
    PASSWORD,
    Api,
    Versions,
    review_api_under_review,
)
from workflows.signatures import read_requirement

TITLE = "Patient spotlight"
BODY = "Please welcome back Mr. Osgood Farrow, 93, after his heart surgery! Call his cell, 555-301-7788."


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    async with review_api_under_review(tmp_path, monkeypatch, database, title=TITLE, body=BODY) as running:
        yield running


async def test_screening_endpoint_returns_findings_with_spans(api: Api) -> None:
    text = "Questions? Call us at (555) 010-2000. My dad Bertram Oakes, 91, was admitted after a fall."
    response = await api.http.post("/api/v1/screenings", json={"text": text}, headers=api.auth(AUTHOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["flag"] and body["blocking"] and "phi" in body["categories"]
    assert body["policy_version"] == api.app.state.policy.version
    for finding in body["findings"]:
        assert text[finding["start"] : finding["end"]] == finding["text"]
    assert "(555) 010-2000" not in {f["text"] for f in body["findings"]}  # the allow-listed phone


async def test_screening_endpoint_validates_its_input(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/screenings", json={"text": "hi", "kind": "tweet"}, headers=api.auth(AUTHOR)
    )
    assert response.status_code == 422
    assert (await api.http.post("/api/v1/screenings", json={"text": "hi"})).status_code == 401


async def test_blocking_findings_stop_approval_until_compliance_overrides_them(api: Api) -> None:
    findings = await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))
    assert findings.status_code == 200, findings.text
    current = findings.json()
    assert current["unresolved_blocking"] >= 3 and current["content_hash"] == api.hash
    blocking_rules = {f["rule"] for f in current["findings"] if f["severity"] == "block"}
    assert {"phi.patient_name", "phi.age_over_89", "phi.phone"} <= blocking_rules

    approve = {"stage": "legal", "decision": "approve", "content_hash": api.hash, "password": PASSWORD}
    refused = await api.http.post("/api/v1/reviews/d-1/decisions", json=approve, headers=api.auth(LEGAL))
    assert refused.status_code == 409 and refused.json()["error"] == "blocking_findings"
    assert api.temporal.decisions == []
    assert api.audit.events[-1]["action"] == "decision.refused"

    override = {"finding_rule": "phi.phone", "content_hash": api.hash, "reason": "ok", "password": PASSWORD}
    url = "/api/v1/reviews/d-1/overrides"
    assert (await api.http.post(url, json=override, headers=api.auth(LEGAL))).status_code == 403
    wrong = {**override, "password": "nope"}
    assert (await api.http.post(url, json=wrong, headers=api.auth(COMPLIANCE))).status_code == 403
    stale = {**override, "content_hash": "0" * 64}
    assert (await api.http.post(url, json=stale, headers=api.auth(COMPLIANCE))).status_code == 409
    unknown = {**override, "finding_rule": "phi.nothing"}
    assert (await api.http.post(url, json=unknown, headers=api.auth(COMPLIANCE))).status_code == 422
    both = {**override, "finding_index": 0}
    assert (await api.http.post(url, json=both, headers=api.auth(COMPLIANCE))).status_code == 422

    for rule in sorted(blocking_rules):
        reason = f"family asked us to post; {rule} cleared with the patient"
        done = await api.http.post(
            url, json={**override, "finding_rule": rule, "reason": reason}, headers=api.auth(COMPLIANCE)
        )
        assert done.status_code == 200, done.text
    after = done.json()
    assert after["unresolved_blocking"] == 0
    assert all(
        f["overridden"]["reviewer_id"] == COMPLIANCE.user_id
        for f in after["findings"]
        if f["severity"] == "block"
    )

    event = api.audit.events[-1]
    assert event["action"] == "finding.overridden" and event["actor"] == COMPLIANCE.user_id
    assert "Farrow" not in str(event) and "555-301-7788" not in str(event)  # no PHI in the audit trail

    # Clearing the last blocking finding hands the workflow a re-signed requirement with none left.
    assert len(api.temporal.overrides) == 1
    renewed = read_requirement(api.temporal.overrides[0].requirement, api.app.state.signer.public_keys)
    assert renewed.blocking_unresolved == 0 and renewed.content_hash == api.hash

    accepted = await api.http.post("/api/v1/reviews/d-1/decisions", json=approve, headers=api.auth(LEGAL))
    assert accepted.status_code == 200, accepted.text
    assert [d.decision for d in api.temporal.decisions] == ["approve"]


async def test_the_decision_api_checks_the_author_with_the_drafts_service(api: Api) -> None:
    """Even if the review tasks named someone else (a forged workflow input), the drafts service's
    author may not sign a decision on their own draft."""
    api.app.state.drafts = Versions({"author_id": LEGAL.user_id})
    changes = {
        "stage": "legal",
        "decision": "request_changes",
        "reason": "shorter",
        "content_hash": api.hash,
        "password": PASSWORD,
    }

    refused = await api.http.post("/api/v1/reviews/d-1/decisions", json=changes, headers=api.auth(LEGAL))

    assert refused.status_code == 403 and "author" in refused.json()["detail"]
    assert api.temporal.decisions == []
    assert api.audit.events[-1]["action"] == "decision.refused"


async def test_an_override_the_workflow_did_not_take_is_taken_back_and_can_be_retried(api: Api) -> None:
    # The overrides are committed before the workflow is asked (no connection is held across the
    # update, issue #13); when it does not answer they are removed again, as a rollback did.
    current = (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))).json()
    rules = sorted({f["rule"] for f in current["findings"] if f["severity"] == "block"})
    url = "/api/v1/reviews/d-1/overrides"
    override = {"content_hash": api.hash, "reason": "cleared with the patient", "password": PASSWORD}
    for rule in rules[:-1]:
        done = await api.http.post(url, json={**override, "finding_rule": rule}, headers=api.auth(COMPLIANCE))
        assert done.status_code == 200, done.text
    api.temporal.down = True
    last = {**override, "finding_rule": rules[-1]}
    failed = await api.http.post(url, json=last, headers=api.auth(COMPLIANCE))
    assert failed.status_code == 503, failed.text
    after = (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))).json()
    assert after["unresolved_blocking"] >= 1
    assert not any(f["overridden"] for f in after["findings"] if f["rule"] == rules[-1])

    api.temporal.down = False
    retried = await api.http.post(url, json=last, headers=api.auth(COMPLIANCE))
    assert retried.status_code == 200, retried.text
    assert retried.json()["unresolved_blocking"] == 0
    assert len(api.temporal.overrides) == 1


async def test_only_reviewers_and_the_author_see_findings(api: Api) -> None:
    stranger = Principal("u-x", "x@t", "Xavier", frozenset({"publisher"}))
    assert (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(stranger))).status_code == 403
    assert (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(AUTHOR))).status_code == 200
    assert (await api.http.get("/api/v1/reviews/nope/findings", headers=api.auth(LEGAL))).status_code == 404


async def test_the_author_cannot_override(api: Api) -> None:
    author_reviewer = Principal(
        AUTHOR.user_id, AUTHOR.username, AUTHOR.name, frozenset({"author", "compliance"})
    )
    override = {"finding_index": 0, "content_hash": api.hash, "reason": "mine", "password": PASSWORD}
    response = await api.http.post(
        "/api/v1/reviews/d-1/overrides", json=override, headers=api.auth(author_reviewer)
    )
    assert response.status_code == 403
    async with api.app.state.sessionmaker() as session:
        assert (await session.get(FindingOverride, "any")) is None


async def test_an_approval_for_a_channel_that_cannot_take_the_post_is_refused_before_signing(
    api: Api,
) -> None:
    """An expired, revoked or unreachable account is the publisher's fact, asked before anyone signs."""
    findings = (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))).json()
    for rule in sorted({f["rule"] for f in findings["findings"] if f["severity"] == "block"}):
        override = {"finding_rule": rule, "content_hash": api.hash, "reason": "cleared", "password": PASSWORD}
        done = await api.http.post(
            "/api/v1/reviews/d-1/overrides", json=override, headers=api.auth(COMPLIANCE)
        )
        assert done.status_code == 200, done.text
    states: FakeChannelStates = api.app.state.channel_states
    states.problems["sandbox"] = "revoked (the network refused the token)"
    approve = {"stage": "legal", "decision": "approve", "content_hash": api.hash, "password": "wrong"}

    refused = await api.http.post("/api/v1/reviews/d-1/decisions", json=approve, headers=api.auth(LEGAL))

    assert refused.status_code == 409 and refused.json()["error"] == "channel_unusable"
    assert "sandbox: revoked" in refused.json()["detail"]
    assert api.temporal.decisions == [] and states.asked == [["sandbox"]]
    states.problems.clear()
    accepted = await api.http.post(
        "/api/v1/reviews/d-1/decisions", json={**approve, "password": PASSWORD}, headers=api.auth(LEGAL)
    )
    assert accepted.status_code == 200, accepted.text
