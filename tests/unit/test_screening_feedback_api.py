"""Reviewers teach the screener: marks bound to the version, audited without the passage, and allow-list
proposals that a second compliance reviewer approves and the running screener then uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.kit.canonical import content_hash
from services.kit.tokens import Principal
from services.review.feedback import passage_digest
from services.review.models import AllowListProposal, ScreeningMark
from tests.database import DatabaseFactory
from tests.unit.screening_fixtures import (
    AUDITOR,
    AUTHOR,
    COMPLIANCE,
    COMPLIANCE_2,
    LEGAL,
    Api,
    review_api_under_review,
)

TITLE = "Recovery walk"
BODY = "Marisol Quenby led our cardiac rehab walk after surgery. Call her at 555-301-7788 to join."
URL = "/api/v1/reviews/d-1/feedback"
PROPOSALS = "/api/v1/screenings/allow-list/proposals"


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    async with review_api_under_review(tmp_path, monkeypatch, database, title=TITLE, body=BODY) as api:
        yield api


async def _findings(api: Api) -> list[dict[str, Any]]:
    response = await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))
    assert response.status_code == 200, response.text
    findings: list[dict[str, Any]] = response.json()["findings"]
    return findings


async def _index(api: Api, rule: str) -> int:
    return next(f["index"] for f in await _findings(api) if f["rule"] == rule)


async def _rows(api: Api, model: type[Any]) -> list[Any]:
    from sqlalchemy import select

    async with api.app.state.sessionmaker() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_a_wrong_finding_is_stored_for_the_version_and_audited_without_its_text(api: Api) -> None:
    index = await _index(api, "phi.phone")
    mark = {"mark": "wrong", "content_hash": api.hash, "finding_index": index, "reason": "clinic line"}

    response = await api.http.post(URL, json=mark, headers=api.auth(LEGAL))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mark"] == "wrong" and body["category"] == "phi" and body["finding_rule"] == "phi.phone"
    assert body["version"] == 1 and body["content_hash"] == api.hash and body["proposal"] is None
    [row] = await _rows(api, ScreeningMark)
    assert row.passage == "555-301-7788" and row.screened_text == f"{TITLE}\n{BODY}"
    assert row.reviewer_id == LEGAL.user_id
    event = api.audit.events[-1]
    assert event["action"] == "screening.finding_marked_wrong" and event["actor"] == LEGAL.user_id
    assert event["details"]["finding_index"] == index and event["details"]["content_hash"] == api.hash
    assert event["details"]["passage_sha256"] == passage_digest("555-301-7788")
    assert "555-301-7788" not in str(event) and "Quenby" not in str(event)


async def test_a_missed_passage_is_located_and_audited_by_digest(api: Api) -> None:
    passage = "cardiac rehab walk after surgery"
    mark = {"mark": "missed", "content_hash": api.hash, "passage": passage, "category": "adverse_event"}

    response = await api.http.post(URL, json=mark, headers=api.auth(COMPLIANCE))

    assert response.status_code == 201, response.text
    assert response.json()["start"] == f"{TITLE}\n{BODY}".index(passage)
    event = api.audit.events[-1]
    assert event["action"] == "screening.passage_marked_missed"
    assert event["details"]["category"] == "adverse_event" and event["details"]["length"] == len(passage)
    assert passage not in str(event)
    listed = await api.http.get(URL, headers=api.auth(AUDITOR))
    assert listed.status_code == 200 and [m["passage"] for m in listed.json()["marks"]] == [passage]


async def test_bad_marks_are_refused_with_reasons(api: Api) -> None:
    phone = await _index(api, "phi.phone")
    consent = await _index(api, "consent.named_patient")
    base = {"content_hash": api.hash}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**base, "mark": "wrong", "finding_index": 99, "reason": "x"}, 422, "no finding 99"),
        ({**base, "mark": "wrong", "finding_index": phone, "reason": "  "}, 422, "reason"),
        ({**base, "mark": "wrong", "finding_index": consent, "reason": "x", "ours": "staff"}, 422, "PHI"),
        ({**base, "mark": "wrong", "finding_index": phone, "reason": "x", "ours": "pager"}, 422, "staff"),
        ({**base, "mark": "missed", "passage": "not in it", "category": "phi"}, 422, "not in the text"),
        ({**base, "mark": "missed", "passage": "Marisol", "category": "rumour"}, 422, "adverse_event"),
        ({**base, "mark": "missed", "passage": "555-301-7788", "category": "phi"}, 422, "already flags"),
        ({**base, "mark": "maybe"}, 422, "mark"),
        ({"mark": "wrong", "content_hash": "0" * 64, "finding_index": phone, "reason": "x"}, 409, "changed"),
    ]
    for body, status, says in cases:
        response = await api.http.post(URL, json=body, headers=api.auth(LEGAL))
        assert response.status_code == status, (body, response.text)
        assert says in response.text, (body, response.text)
    assert await _rows(api, ScreeningMark) == []
    assert not [e for e in api.audit.events if e["action"].startswith("screening.")]


async def test_only_reviewers_other_than_the_author_mark(api: Api) -> None:
    mark = {"mark": "missed", "content_hash": api.hash, "passage": "rehab walk", "category": "phi"}
    author_reviewer = Principal(AUTHOR.user_id, AUTHOR.username, AUTHOR.name, frozenset({"author", "legal"}))
    for who in (AUTHOR, AUDITOR, author_reviewer):
        assert (await api.http.post(URL, json=mark, headers=api.auth(who))).status_code == 403
    assert (await api.http.get(URL, headers=api.auth(AUTHOR))).status_code == 403
    assert (
        await api.http.post("/api/v1/reviews/nope/feedback", json=mark, headers=api.auth(LEGAL))
    ).status_code == 404
    assert await _rows(api, ScreeningMark) == []


async def test_an_approved_this_is_ours_entry_is_allowed_in_every_later_screening(api: Api) -> None:
    name = await _index(api, "phi.patient_name")
    mark = {
        "mark": "wrong",
        "content_hash": api.hash,
        "finding_index": name,
        "reason": "our volunteer coordinator",
        "ours": "staff",
    }
    made = await api.http.post(URL, json=mark, headers=api.auth(COMPLIANCE))
    assert made.status_code == 201, made.text
    proposal = made.json()["proposal"]
    assert proposal["status"] == "pending" and proposal["value"] == "Marisol Quenby"
    assert api.audit.events[-1]["details"]["allow_list_proposal"]["kind"] == "staff"

    pending = await api.http.get(PROPOSALS, headers=api.auth(COMPLIANCE_2))
    assert [p["id"] for p in pending.json()["proposals"]] == [proposal["id"]]
    assert pending.json()["proposals"][0]["draft_id"] == "d-1"
    assert (await api.http.get(PROPOSALS, headers=api.auth(LEGAL))).status_code == 403

    text = {"text": "Marisol Quenby led our cardiac rehab walk after surgery."}
    before = await api.http.post("/api/v1/screenings", json=text, headers=api.auth(LEGAL))
    assert "phi" in before.json()["categories"]

    approve = f"{PROPOSALS}/{proposal['id']}/approve"
    reason = {"reason": "on the staff list since 2024"}
    assert (await api.http.post(approve, json=reason, headers=api.auth(COMPLIANCE))).status_code == 403
    assert (await api.http.post(approve, json=reason, headers=api.auth(LEGAL))).status_code == 403
    assert (
        await api.http.post(approve, json={"reason": ""}, headers=api.auth(COMPLIANCE_2))
    ).status_code == 422
    done = await api.http.post(approve, json=reason, headers=api.auth(COMPLIANCE_2))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved" and done.json()["decider_id"] == COMPLIANCE_2.user_id
    event = api.audit.events[-1]
    assert event["action"] == "screening.allow_list_approved" and "Quenby" not in str(event)
    again = await api.http.post(
        f"{PROPOSALS}/{proposal['id']}/reject", json=reason, headers=api.auth(COMPLIANCE_2)
    )
    assert again.status_code == 409

    # No restart: the running service's screener allows the name from now on.
    after = await api.http.post("/api/v1/screenings", json=text, headers=api.auth(LEGAL))
    assert "phi" not in after.json()["categories"], after.text
    assert (await api.http.get(PROPOSALS, headers=api.auth(COMPLIANCE))).json()["proposals"] == []


async def test_an_approval_made_by_another_process_reaches_this_screener_before_it_screens(api: Api) -> None:
    async with api.app.state.sessionmaker() as session:
        from services.kit.clock import utcnow

        session.add(
            AllowListProposal(
                id="p-other",
                mark_id="m-other",
                kind="phone",
                value="555-301-7788",
                status="approved",
                proposer_id="u-a",
                proposer_name="A",
                created_at=utcnow(),
                decider_id="u-b",
                decider_name="B",
                decision_reason="the rehab desk",
                decided_at=utcnow(),
            )
        )
        await session.commit()
    text = {"text": "Cardiac rehab after surgery: call Marisol at 555-301-7788, my cell."}
    response = await api.http.post("/api/v1/screenings", json=text, headers=api.auth(LEGAL))
    assert "phi.phone" not in {f["rule"] for f in response.json()["findings"]}, response.text


async def test_a_rejected_proposal_changes_nothing(api: Api) -> None:
    phone = await _index(api, "phi.phone")
    mark = {"mark": "wrong", "content_hash": api.hash, "finding_index": phone, "reason": "x", "ours": "phone"}
    proposal = (await api.http.post(URL, json=mark, headers=api.auth(LEGAL))).json()["proposal"]
    reject = f"{PROPOSALS}/{proposal['id']}/reject"
    done = await api.http.post(reject, json={"reason": "a patient's cell"}, headers=api.auth(COMPLIANCE))
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    assert api.audit.events[-1]["action"] == "screening.allow_list_rejected"
    assert api.app.state.screener.extra_allow_list.phones == []
    text = {"text": "Cardiac rehab after surgery: call Marisol at 555-301-7788, my cell."}
    response = await api.http.post("/api/v1/screenings", json=text, headers=api.auth(LEGAL))
    assert "phi.phone" in {f["rule"] for f in response.json()["findings"]}


async def test_a_worker_with_its_own_screener_stores_later_screenings_with_the_approved_entry(
    api: Api,
) -> None:
    """The workflow activity of another process (its own engine, built before the approval) reads the
    approved entries before it screens a new version."""
    from services.review.activities import ReviewActivities
    from services.review.models import Screening
    from services.review.screening.engine import Screener
    from tests.unit.screening_fixtures import Versions
    from workflows.contracts import ScreenVersionInput

    state = api.app.state
    body = "Marisol Quenby led our cardiac rehab walk after surgery."
    digest = content_hash(title=TITLE, body=body, channels=["sandbox"], media_digests=[])
    version = {
        "title": TITLE,
        "body": body,
        "channels": ["sandbox"],
        "media_digests": [],
        "content_hash": digest,
        "consent_id": None,
        "patient_content": False,
        "author_id": AUTHOR.user_id,
    }
    worker = ReviewActivities(
        state.sessionmaker,
        state.policy,
        Versions(version),
        screener=Screener(state.policy),
        signer=state.signer,
    )
    name = await _index(api, "phi.patient_name")
    mark = {
        "mark": "wrong",
        "content_hash": api.hash,
        "finding_index": name,
        "reason": "staff",
        "ours": "staff",
    }
    proposal = (await api.http.post(URL, json=mark, headers=api.auth(LEGAL))).json()["proposal"]
    before = await worker.screen_draft_version(ScreenVersionInput("d-1", 2, digest, False))
    approved = await api.http.post(
        f"{PROPOSALS}/{proposal['id']}/approve", json={"reason": "staff"}, headers=api.auth(COMPLIANCE)
    )
    assert approved.status_code == 200, approved.text

    after = await worker.screen_draft_version(ScreenVersionInput("d-1", 3, digest, False))

    async with state.sessionmaker() as session:
        first = await session.get(Screening, before.screening_id)
        second = await session.get(Screening, after.screening_id)
    assert first is not None and "phi" in first.categories
    assert second is not None and "phi" not in second.categories, second.findings
