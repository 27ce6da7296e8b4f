"""Reviewers' marks become labeled examples (`clearpost screen feedback export`) that `make
eval-screening FEEDBACK=1` scores, with the allow-list entries compliance approved."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from services.cli import app as clearpost
from services.review.config import DEFAULT_POLICY_FILE
from services.review.feedback_export import labeled_examples
from services.review.models import Screening, ScreeningMark
from services.review.policy import AllowList
from services.review.screening.eval import evaluate_feedback, main, render
from tests.database import DatabaseFactory
from tests.unit.screening_fixtures import COMPLIANCE, LEGAL, Api, review_api_under_review

TITLE = "Recovery walk"
BODY = "Marisol Quenby led our cardiac rehab walk after surgery. Call her at 555-301-7788 to join."
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    async with review_api_under_review(tmp_path, monkeypatch, database, title=TITLE, body=BODY) as api:
        yield api


def _screening(findings: list[dict[str, Any]]) -> Screening:
    return Screening(
        id="s-1",
        draft_id="d-1",
        version=2,
        content_hash="h" * 64,
        policy_version="p",
        categories=sorted({f["category"] for f in findings}),
        products=[],
        findings=findings,
        blocking=False,
        created_at=AT,
    )


def _mark(mark: str, category: str, index: int | None = None, reason: str = "r") -> ScreeningMark:
    return ScreeningMark(
        id=f"m-{mark}-{category}-{index}",
        screening_id="s-1",
        draft_id="d-1",
        version=2,
        content_hash="h" * 64,
        mark=mark,
        category=category,
        finding_index=index,
        finding_rule=f"{category}.rule" if index is not None else None,
        passage="p",
        start=0,
        reason=reason,
        screened_text="Title\nBody",
        consent_on_file=True,
        reviewer_id="u",
        reviewer_name="U",
        reviewer_roles=["legal"],
        created_at=AT,
    )


def test_an_example_drops_categories_only_marked_wrong_and_adds_missed_ones() -> None:
    findings = [
        {"category": "phi", "start": 0, "end": 2, "rule": "phi.a"},
        {"category": "phi", "start": 3, "end": 5, "rule": "phi.b"},
        {"category": "fda_fair_balance", "start": 0, "end": 4, "rule": "fb"},
        {"category": "consent_missing", "start": 0, "end": 0, "media_digest": "ab" * 32},
    ]
    screening = _screening(findings)

    [only_one_phi_wrong] = labeled_examples(
        [_mark("wrong", "phi", 0), _mark("missed", "adverse_event")], {"s-1": screening}
    )
    [both_phi_wrong] = labeled_examples(
        [_mark("wrong", "phi", 0), _mark("wrong", "phi", 1), _mark("wrong", "fda_fair_balance", 2)],
        {"s-1": screening},
    )

    assert only_one_phi_wrong["expect"] == {
        "flag": True,
        "categories": ["adverse_event", "fda_fair_balance", "phi"],  # the image finding is not the text's
    }
    assert both_phi_wrong["expect"] == {"flag": False, "categories": []}
    assert set(only_one_phi_wrong) == {"id", "kind", "text", "context", "expect", "why"}
    assert only_one_phi_wrong["id"] == "feedback-d-1-v2" and only_one_phi_wrong["kind"] == "post"
    assert only_one_phi_wrong["text"] == "Title\nBody"
    assert only_one_phi_wrong["context"]["consent_on_file"] is True
    assert "missed: adverse_event" in only_one_phi_wrong["why"]


async def _mark_through_the_api(api: Api) -> None:
    findings = (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))).json()
    by_rule = {f["rule"]: f["index"] for f in findings["findings"]}
    for body in (
        {"mark": "wrong", "finding_index": by_rule["phi.patient_name"], "reason": "staff", "ours": "staff"},
        {"mark": "wrong", "finding_index": by_rule["consent.named_patient"], "reason": "staff, no consent"},
        {"mark": "missed", "passage": "cardiac rehab", "category": "adverse_event", "reason": "test"},
    ):
        response = await api.http.post(
            "/api/v1/reviews/d-1/feedback", json={**body, "content_hash": api.hash}, headers=api.auth(LEGAL)
        )
        assert response.status_code == 201, response.text
    [proposal] = (
        await api.http.get("/api/v1/screenings/allow-list/proposals", headers=api.auth(COMPLIANCE))
    ).json()["proposals"]
    approved = await api.http.post(
        f"/api/v1/screenings/allow-list/proposals/{proposal['id']}/approve",
        json={"reason": "our coordinator"},
        headers=api.auth(COMPLIANCE),
    )
    assert approved.status_code == 200, approved.text


async def test_the_export_writes_the_marks_from_the_review_database(api: Api, tmp_path: Path) -> None:
    await _mark_through_the_api(api)
    out = tmp_path / "feedback.jsonl"

    # The command runs its own event loop, as from a shell.
    result = await asyncio.to_thread(
        CliRunner().invoke, clearpost, ["screen", "feedback", "export", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    assert "1 labeled example" in result.stderr
    [example] = [json.loads(line) for line in out.read_text().splitlines()]
    assert example["text"] == f"{TITLE}\n{BODY}"
    # Name and consent findings marked wrong are gone; the phone stays PHI; the missed one is added.
    assert example["expect"] == {"flag": True, "categories": ["adverse_event", "phi"]}
    assert example["context"]["content_hash"] == api.hash

    to_stdout = await asyncio.to_thread(CliRunner().invoke, clearpost, ["screen", "feedback", "export"])
    assert to_stdout.exit_code == 0 and json.loads(to_stdout.stdout) == example


async def test_eval_with_feedback_scores_the_reviewers_examples(api: Api, tmp_path: Path) -> None:
    await _mark_through_the_api(api)
    corpus = tmp_path / "screening-tiny.jsonl"
    corpus.write_text(json.dumps({"id": "x", "kind": "post", "text": "Hello", "expect": {"categories": []}}))
    (tmp_path / "products-tiny.json").write_text(json.dumps({"products": []}))
    app = typer.Typer()
    app.command()(main)

    result = await asyncio.to_thread(CliRunner().invoke, app, ["--feedback", "--corpus", str(corpus)])

    assert result.exit_code == 0, result.output
    assert "Screening eval on screening-tiny.jsonl" in result.stdout
    feedback = result.stdout.split("Screening eval on reviewers' feedback (1 marked versions)")[1]
    # The approved staff entry clears the name; the phone is still found; the missed passage is not.
    rows = {
        cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in feedback.splitlines())
    }
    assert rows["phi"][1:3] == ["1.00", "1.00"], feedback
    assert rows["consent_missing"][1:3] == ["1.00", "1.00"], feedback
    assert rows["adverse_event"][2] == "0.00", feedback


def test_the_screener_is_scored_with_the_approved_allow_list() -> None:
    text = "Recovery walk\nMarisol Quenby led our cardiac rehab walk after surgery."
    example = {
        "id": "feedback-d-1-v1",
        "kind": "post",
        "text": text,
        "context": {"consent_on_file": False},
        "expect": {"flag": False, "categories": []},
        "why": "marked wrong: phi (phi.patient_name): staff",
    }

    without = evaluate_feedback(DEFAULT_POLICY_FILE, [example], AllowList())
    with_entry = evaluate_feedback(DEFAULT_POLICY_FILE, [example], AllowList(staff=["Marisol Quenby"]))

    assert without.clean_flagged == 1, render(without)
    assert with_entry.clean_flagged == 0, render(with_entry)
    assert "reviewers' feedback (1 marked versions)" in render(with_entry)
