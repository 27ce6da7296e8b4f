"""Images without a valid consent become `consent_missing` screening findings that name the image.

The drafts service reports, for each image that shows a patient, whether a valid consent covers it
(`media_consent` on its internal version answer); the review service's screening activity records
one finding per uncovered image, and the findings API and the review UI show them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.canonical import content_hash
from services.kit.db import create_engine, create_sessionmaker
from services.kit.tokens import Principal
from services.review.activities import ReviewActivities
from services.review.config import DEFAULT_POLICY_FILE
from services.review.models import Screening
from services.review.policy import LoadedPolicy, load_policy_file, parse_policy
from services.review.screening.findings import media_consent_findings
from services.review.ui.presenters import highlight
from tests.database import DatabaseFactory
from tests.unit import test_review_ui, test_screening_api
from tests.unit.review_fixtures import SIGNER, FakeVersions
from tests.unit.review_ui_fixtures import COMPLIANCE as UI_COMPLIANCE
from tests.unit.review_ui_fixtures import HASH as UI_HASH
from tests.unit.review_ui_fixtures import Ui
from tests.unit.screening_fixtures import AUTHOR, COMPLIANCE, LEGAL, PASSWORD, Api, Versions
from workflows.contracts import ScreenVersionInput

# The screening API's and the review UI's own fixtures: one fixture per resource.
api = test_screening_api.api
ui = test_review_ui.ui

PHOTO, OTHER, STAFF = "a1" * 32, "b2" * 32, "c3" * 32
TITLE, BODY = "Team day", "Our day at the park."


def content(coverage: list[dict[str, Any]], draft_id: str = "d-9") -> dict[str, Any]:
    """The drafts service's internal version answer for a text-clean version with three images."""
    digests = [PHOTO, OTHER, STAFF]
    return {
        "draft_id": draft_id,
        "version": 1,
        "title": TITLE,
        "body": BODY,
        "channels": ["sandbox", "webhook"],
        "patient_content": False,
        "consent_ids": ["c-1"],
        "consent_on_file": True,
        "media_digests": digests,
        "media_consent": coverage,
        "content_hash": content_hash(
            title=TITLE, body=BODY, channels=["sandbox", "webhook"], media_digests=digests
        ),
        "author_id": AUTHOR.user_id,
    }


COVERAGE = [
    {"digest": PHOTO, "covered": True, "why": "", "consent_id": "c-1", "detail": ""},
    {
        "digest": OTHER,
        "covered": False,
        "why": "channel_not_covered",
        "consent_id": "c-1",
        "detail": f"photo {OTHER[:12]} shows a face; consent c-1 names it but does not cover channel webhook",
    },
    {
        "digest": STAFF,
        "covered": False,
        "why": "staff_stock_unconfirmed",
        "consent_id": None,
        "detail": f"photo {STAFF[:12]} shows a face; the author marked it staff/stock but compliance has "
        "not confirmed that, so it counts as a patient and no valid consent covers it",
    },
]


def screen(version: dict[str, Any]) -> ScreenVersionInput:
    return ScreenVersionInput(version["draft_id"], version["version"], version["content_hash"], False)


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policy_file(DEFAULT_POLICY_FILE)


@pytest.fixture
async def review_sessionmaker(database: DatabaseFactory) -> AsyncIterator[Sessions]:
    target = database("review")
    engine = create_engine(target.url, schema=target.schema)
    yield create_sessionmaker(engine)
    await engine.dispose()


def test_one_finding_per_uncovered_image() -> None:
    findings = media_consent_findings(COVERAGE, severity="block")

    assert [(f.category, f.severity, f.media_digest, f.rule) for f in findings] == [
        ("consent_missing", "block", OTHER, "consent.media.channel_not_covered"),
        ("consent_missing", "block", STAFF, "consent.media.staff_stock_unconfirmed"),
    ]
    assert findings[0].explanation == (
        f"Photo {OTHER[:12]} shows a face; consent c-1 names it but does not cover channel webhook."
    )
    assert (findings[0].start, findings[0].end, findings[0].text) == (0, 0, "")
    assert media_consent_findings([], severity="block") == []
    assert media_consent_findings(COVERAGE[:1], severity="block") == []


async def test_screening_records_the_image_findings_with_the_text_findings(
    review_sessionmaker: Sessions, policy: LoadedPolicy
) -> None:
    version = content(COVERAGE)
    activities = ReviewActivities(review_sessionmaker, policy, FakeVersions(version), signer=SIGNER)

    result = await activities.screen_draft_version(screen(version))

    # The workflow hears what the text says (a photo must not make the post a patient story for the
    # consent gate); the stored screening holds the image findings, which block.
    assert (result.categories, result.blocking, result.finding_count) == ([], True, 2)
    async with review_sessionmaker() as session:
        stored = await session.get(Screening, result.screening_id)
    assert stored is not None and stored.author_id == AUTHOR.user_id
    assert stored.categories == ["consent_missing"]
    assert [(f["media_digest"], f["rule"]) for f in stored.findings] == [
        (OTHER, "consent.media.channel_not_covered"),
        (STAFF, "consent.media.staff_stock_unconfirmed"),
    ]


async def test_the_policy_sets_the_severity_of_image_findings(
    review_sessionmaker: Sessions, policy: LoadedPolicy
) -> None:
    document = {**policy.document, "screening": {"severities": {"consent_missing": "warn"}}}
    lenient = parse_policy(document)
    version = content(COVERAGE)
    activities = ReviewActivities(review_sessionmaker, lenient, FakeVersions(version), signer=SIGNER)

    result = await activities.screen_draft_version(screen(version))

    assert (result.categories, result.blocking, result.finding_count) == ([], False, 2)


async def test_a_version_whose_images_are_covered_has_no_image_findings(
    review_sessionmaker: Sessions, policy: LoadedPolicy
) -> None:
    version = content(COVERAGE[:1])
    older_answer = {k: v for k, v in content([]).items() if k != "media_consent"}  # before the field existed
    for answer in (version, older_answer):
        activities = ReviewActivities(review_sessionmaker, policy, FakeVersions(answer), signer=SIGNER)
        result = await activities.screen_draft_version(screen(answer))
        assert (result.categories, result.finding_count) == ([], 0)


# --- the findings API ----------------------------------------------------------------------------


async def test_findings_of_a_version_the_consent_gate_sent_back_are_shown_without_a_review(api: Api) -> None:
    state = api.app.state
    version = content(COVERAGE, draft_id="d-gate")
    activities = ReviewActivities(
        state.sessionmaker, state.policy, Versions(version), screener=state.screener, signer=state.signer
    )
    await activities.screen_draft_version(screen(version))  # no review tasks: the gate refused it

    response = await api.http.get("/api/v1/reviews/d-gate/findings", headers=api.auth(AUTHOR))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["under_review"], body["version"], body["content_hash"]) == (
        False,
        1,
        version["content_hash"],
    )
    assert [(f["index"], f["category"], f["media_digest"], f["overridden"]) for f in body["findings"]] == [
        (0, "consent_missing", OTHER, None),
        (1, "consent_missing", STAFF, None),
    ]
    assert body["unresolved_blocking"] == 2
    assert (await api.http.get("/api/v1/reviews/d-gate/findings", headers=api.auth(LEGAL))).status_code == 200
    stranger = Principal("u-x", "x@t", "Xavier", frozenset({"author"}))
    assert (
        await api.http.get("/api/v1/reviews/d-gate/findings", headers=api.auth(stranger))
    ).status_code == 403
    # Nothing is under review, so nothing can be overridden: the consent gate in drafts decides.
    override = {
        "finding_rule": "consent.media.staff_stock_unconfirmed",
        "content_hash": version["content_hash"],
        "reason": "it is our nurse",
        "password": PASSWORD,
    }
    refused = await api.http.post(
        "/api/v1/reviews/d-gate/overrides", json=override, headers=api.auth(COMPLIANCE)
    )
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"


async def test_text_findings_under_review_still_carry_no_image(api: Api) -> None:
    body = (await api.http.get("/api/v1/reviews/d-1/findings", headers=api.auth(LEGAL))).json()

    assert body["under_review"] is True
    assert body["findings"] and all(f["media_digest"] is None for f in body["findings"])


# --- the review UI -------------------------------------------------------------------------------


def test_an_image_finding_is_listed_but_not_marked_in_the_text() -> None:
    [finding] = media_consent_findings(COVERAGE[1:2], severity="block")

    marked = highlight(TITLE, BODY, [finding.as_dict()])

    [listed] = marked.findings
    assert (listed.media_digest, listed.located) == (OTHER, False)
    assert all(not segment.findings for segment in marked.title + marked.body)


async def test_the_draft_page_names_the_image_of_an_image_finding(ui: Ui) -> None:
    [finding] = media_consent_findings(COVERAGE[1:2], severity="block")
    async with ui.app.state.sessionmaker() as session:
        session.add(
            Screening(
                id="s-2", draft_id="d-1", version=2, content_hash=UI_HASH, policy_version="p",
                categories=["consent_missing"], products=[], blocking=True, findings=[finding.as_dict()],
                created_at=datetime.now(UTC) + timedelta(seconds=1),
            )
        )  # fmt: skip
        await session.commit()
    await ui.sign_in(UI_COMPLIANCE)

    page = await ui.http.get("/review/drafts/d-1")

    assert page.status_code == 200
    assert 'id="finding-1"><strong>consent_missing</strong>' in page.text
    assert f'<a href="/review/drafts/d-1/media/{OTHER}">image <code>{OTHER[:12]}</code></a>' in page.text
    assert "not located in the text" not in page.text
