"""The review UI's screening feedback: "Not right" on a finding, "Mark a missed passage", and the
compliance page that approves or rejects "this is ours" allow-list proposals.

Same fixture as test_review_ui.py (version 2 of d-1 under review, one PHI finding: the phone), with
the drafts service's version route answering with the version's text.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import pytest

from services.review.models import AllowListProposal, ScreeningMark
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import AUTHOR, BODY, COMPLIANCE, COMPLIANCE_2, HASH, LEGAL, TITLE, Ui
from tests.unit.review_ui_publisher import post_form

ui = base.ui  # the same fixture: the review app on a real database, fakes behind the UI's interfaces
DRAFT = "/review/drafts/d-1"


class VersionRoute:
    """The drafts service's internal version route: the version under review, with its text."""

    async def author_of(self, draft_id: str, version: int) -> str:
        return AUTHOR.user_id

    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        return {
            "title": TITLE,
            "body": BODY,
            "channels": ["sandbox"],
            "content_hash": HASH,
            "author_id": AUTHOR.user_id,
            "consent_id": None,
        }


@pytest.fixture(autouse=True)
def versions(ui: Ui) -> None:
    ui.app.state.drafts = VersionRoute()


def text_of(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def post(ui: Ui, path: str, data: dict[str, Any]) -> Any:
    return await post_form(ui, path, data, token_page=DRAFT)


async def test_a_reviewer_gets_a_not_right_form_per_finding_and_a_missed_passage_form(ui: Ui) -> None:
    await ui.sign_in(LEGAL)

    page = (await ui.http.get(DRAFT)).text

    form = page[page.index('action="/review/drafts/d-1/findings/0/not-right"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrf_token"' in form and f'name="content_hash" value="{HASH}"' in form
    assert '<label for="not-right-1-reason">' in form and 'name="ours"' in form  # a PHI finding
    assert '<option value="staff">Our staff</option>' in form
    assert 'action="/review/drafts/d-1/missed"' in page and '<label for="missed-passage">' in page
    assert '<option value="adverse_event">' in page


@pytest.mark.parametrize("who", [AUTHOR])
async def test_the_author_gets_no_feedback_forms_and_cannot_post_them(ui: Ui, who: Any) -> None:
    await ui.sign_in(who)

    page = (await ui.http.get(DRAFT)).text
    refused = await post(ui, f"{DRAFT}/missed", {"content_hash": HASH, "passage": "Jane", "category": "phi"})

    assert "not-right" not in page and "Mark a missed passage" not in page
    assert refused.status_code == 403 and await ui.rows(ScreeningMark) == []


async def test_a_form_without_its_security_token_is_refused(ui: Ui) -> None:
    await ui.sign_in(LEGAL)
    from tests.unit.review_ui_fixtures import SAME_ORIGIN

    refused = await ui.http.post(
        f"{DRAFT}/findings/0/not-right", data={"content_hash": HASH, "reason": "ours"}, headers=SAME_ORIGIN
    )

    assert refused.status_code == 403 and await ui.rows(ScreeningMark) == []


async def test_not_right_with_this_is_ours_is_stored_audited_and_shown(ui: Ui) -> None:
    await ui.sign_in(LEGAL)

    done = await post(
        ui,
        f"{DRAFT}/findings/0/not-right",
        {"content_hash": HASH, "reason": "the clinic line", "ours": "phone"},
    )

    assert done.status_code == 303 and done.headers["location"] == f"{DRAFT}?marked=wrong#findings"
    [mark] = await ui.rows(ScreeningMark)
    assert (mark.mark, mark.finding_index, mark.passage, mark.reviewer_id) == (
        "wrong",
        0,
        "555-867-5309",
        LEGAL.user_id,
    )
    [proposal] = await ui.rows(AllowListProposal)
    assert (proposal.kind, proposal.value, proposal.status) == ("phone", "555-867-5309", "pending")
    assert ui.audit.events[-1]["action"] == "screening.finding_marked_wrong"
    assert "555-867-5309" not in str(ui.audit.events[-1])
    shown = text_of((await ui.http.get(f"{DRAFT}?marked=wrong")).text)
    assert "Your “not right” mark was recorded" in shown
    assert "Marked not right by Lena Legal: “the clinic line”" in shown


async def test_a_refused_mark_shows_the_reason_and_keeps_what_was_typed(ui: Ui) -> None:
    await ui.sign_in(LEGAL)

    missing = await post(
        ui,
        f"{DRAFT}/missed",
        {"content_hash": HASH, "passage": "Text Janet now", "category": "adverse_event", "reason": "a typo?"},
    )
    blank = await post(
        ui, f"{DRAFT}/findings/0/not-right", {"content_hash": HASH, "reason": " ", "ours": "staff"}
    )
    stale = await post(
        ui, f"{DRAFT}/missed", {"content_hash": "0" * 64, "passage": "Text Jane", "category": "phi"}
    )

    assert missing.status_code == 422
    assert "Nothing was marked: the passage is not in the text of version 2" in text_of(missing.text)
    assert ">Text Janet now</textarea>" in missing.text and 'value="a typo?"' in missing.text
    assert '<option value="adverse_event" selected>' in missing.text
    assert '<details class="missed" open>' in missing.text
    assert blank.status_code == 422 and "a reason is required" in text_of(blank.text)
    assert '<option value="staff" selected>' in blank.text
    assert stale.status_code == 409 and "the content changed" in text_of(stale.text)
    assert await ui.rows(ScreeningMark) == []


async def test_a_missed_passage_is_recorded_and_listed(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    done = await post(
        ui, f"{DRAFT}/missed", {"content_hash": HASH, "passage": "Text Jane", "category": "phi"}
    )

    assert done.status_code == 303, done.text
    [mark] = await ui.rows(ScreeningMark)
    assert (mark.mark, mark.category, mark.start) == ("missed", "phi", f"{TITLE}\n{BODY}".index("Text Jane"))
    assert ui.audit.events[-1]["action"] == "screening.passage_marked_missed"
    page = text_of((await ui.http.get(DRAFT)).text)
    assert "Passages reviewers marked missed" in page and "phi : “Text Jane” — Casey Compliance" in page


async def test_compliance_approves_a_proposal_on_the_allow_list_page(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    await post(ui, f"{DRAFT}/findings/0/not-right", {"content_hash": HASH, "reason": "ours", "ours": "phone"})
    [proposal] = await ui.rows(AllowListProposal)

    own = await post_form(
        ui, f"/review/allow-list/{proposal.id}/approve", {"reason": "my own"}, token_page="/review/allow-list"
    )
    assert own.status_code == 403
    assert "other than its proposer" in text_of(own.text) and 'value="my own"' in own.text

    await ui.sign_in(LEGAL)
    assert (await ui.http.get("/review/allow-list")).status_code == 403

    await ui.sign_in(COMPLIANCE_2)
    page = (await ui.http.get("/review/allow-list")).text
    assert "Our phone : “555-867-5309” — proposed by Casey Compliance" in text_of(page)
    assert f'formaction="/review/allow-list/{proposal.id}/reject"' in page
    assert '<a href="/review/allow-list">Allow-list</a>' in page
    empty = await post_form(
        ui, f"/review/allow-list/{proposal.id}/approve", {"reason": ""}, token_page="/review/allow-list"
    )
    assert empty.status_code == 422 and "a reason is required" in text_of(empty.text)

    done = await post_form(
        ui,
        f"/review/allow-list/{proposal.id}/approve",
        {"reason": "front desk"},
        token_page="/review/allow-list",
    )

    assert done.status_code == 303 and done.headers["location"] == "/review/allow-list?done=approved"
    [decided] = await ui.rows(AllowListProposal)
    assert (decided.status, decided.decider_id, decided.decision_reason) == (
        "approved",
        COMPLIANCE_2.user_id,
        "front desk",
    )
    assert ui.audit.events[-1]["action"] == "screening.allow_list_approved"
    assert ui.app.state.screener.extra_allow_list.phones == ["555-867-5309"]
    after = text_of((await ui.http.get("/review/allow-list?done=approved")).text)
    assert "No proposal is waiting." in after and "approved Riley Second front desk" in after
