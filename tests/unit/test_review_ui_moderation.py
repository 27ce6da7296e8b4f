"""The review UI's moderation inbox over HTTP (no browser): flagged comments with the screening's
explanations, PHI first, and one click hiding a PHI comment through the publisher's API (the
user's own token); who may see and hide. Same fixture as test_review_ui.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.review.ae_case_models import CommentScreening
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import AUTHOR, COMPLIANCE, PUBLISHER, Ui
from tests.unit.review_ui_publisher import FakePublisherApi, install, post_form

ui = base.ui

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def comment(comment_id: str, text: str, categories: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "id": comment_id, "network": "facebook", "account": "clinic-fb", "publication_id": "p-1",
        "draft_id": "d-1", "external_id": f"x-{comment_id}", "in_reply_to": None, "author": "Maria Miller",
        "url": None, "text": text, "created_at": None, "read_at": NOW.isoformat(), "screening_id": "s-1",
        "categories": categories, "moderation": None, "moderated_at": None,
        "suggested_reply": "Please contact us privately." if categories else None, "can_hide": True,
        **changes,
    }  # fmt: skip


class CommentsApi(FakePublisherApi):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.comment_rows: list[dict[str, Any]] = []
        self.hidden: list[tuple[str, str]] = []

    async def comments(self, token: str, *, category: str = "any") -> list[dict[str, Any]]:
        return self.comment_rows

    async def hide_comment(self, token: str, comment_id: str, reason: str) -> dict[str, Any]:
        self.hidden.append((comment_id, reason))
        row = next(c for c in self.comment_rows if c["id"] == comment_id)
        row["moderation"] = "hidden"
        return row


@pytest.fixture
async def comments(ui: Ui) -> CommentsApi:
    fake = install(ui)
    api = CommentsApi(drafts_by_id=fake.drafts_by_id, versions_by_id=fake.versions_by_id)
    ui.app.state.ui.user_api = api
    ui.user_api = api
    api.comment_rows = [
        comment("c-claim", "This cured my cough overnight!", ["unsupported_claim"]),
        comment("c-phi", "My son Jake Miller is in room 412 with leukemia", ["phi"]),
    ]
    async with ui.app.state.sessionmaker() as session, session.begin():
        session.add(
            CommentScreening(
                id="s-1", comment_id="c-phi", network="facebook", account="clinic-fb", draft_id="d-1",
                author="Maria Miller", url=None, read_at=NOW, policy_version="p", categories=["phi"],
                products=[], drugs=[], elements={},
                findings=[{"category": "phi", "text": "Jake Miller", "rule": "phi.patient_name",
                           "explanation": "A patient's name in a care context"}],
                created_at=NOW,
            )
        )  # fmt: skip
    return api


async def test_the_inbox_shows_phi_first_with_its_explanation_and_hides_in_one_click(
    ui: Ui, comments: CommentsApi
) -> None:
    await ui.sign_in(PUBLISHER)
    page = await ui.http.get("/review/moderation")
    assert page.status_code == 200
    html = page.text
    assert html.index('data-comment="c-phi"') < html.index('data-comment="c-claim"')
    assert "A patient&#39;s name in a care context" in html or "A patient's name in a care context" in html
    assert 'href="/review/moderation"' in html  # in the navigation

    done = await post_form(
        ui, "/review/moderation/c-phi/hide", {"reason": "PHI in a public comment"}, "/review/moderation"
    )
    assert done.status_code == 303 and done.headers["location"] == "/review/moderation?hidden=1"
    assert comments.hidden == [("c-phi", "PHI in a public comment")]
    after = await ui.http.get("/review/moderation?hidden=1")
    assert "Hidden on its network" in after.text


async def test_compliance_sees_it_and_authors_do_not(ui: Ui, comments: CommentsApi) -> None:
    await ui.sign_in(COMPLIANCE)
    assert (await ui.http.get("/review/moderation")).status_code == 200
    await ui.sign_in(AUTHOR)
    refused = await ui.http.get("/review/moderation")
    assert refused.status_code == 403 and comments.hidden == []
