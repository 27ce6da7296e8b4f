"""The review UI's adverse-event case pages over HTTP (no browser), on SQLite and PostgreSQL: the list
(open first by regulatory time left, overdue marked, the CSV link), a case with its elements, clocks
and steps, and the three steps through the forms: each the service's own (the same case event and
audit event as the API), the workflow told after a hand-off and a close, refusals shown on the page
with what was typed and their status code, and who may read and who may act (the API's roles).
Same fixture as test_review_ui.py."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest

from services.kit.clock import utcnow
from services.review.ae_case_models import AeCase, AeCaseEvent, CommentScreening
from services.review.ae_cases import AeCaseService
from services.review.notifications.deliverer import Deliverer
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import (
    ADMIN,
    AUDITOR,
    AUTHOR,
    COMPLIANCE,
    PHARMACOVIGILANCE,
    PUBLISHER,
    SAME_ORIGIN,
    Ui,
)
from tests.unit.review_ui_publisher import post_form

ui = base.ui


@dataclass
class FakeCaseWorkflows:
    """The comment workflows' door as the case steps use it: which case workflows were told what."""

    told: list[tuple[str, str, str]] = field(default_factory=list)

    async def case_handed_off(self, comment_id: str, actor: str) -> None:
        self.told.append(("handed_off", comment_id, actor))

    async def case_closed(self, comment_id: str, actor: str) -> None:
        self.told.append(("closed", comment_id, actor))


async def open_case(ui: Ui, comment_id: str, read_at: datetime, *, elements: dict[str, str | None]) -> str:
    """A screened adverse-event comment and its case, opened by the service as the workflow does."""
    async with ui.app.state.sessionmaker() as session, session.begin():
        session.add(
            CommentScreening(
                id=f"s-{comment_id}", comment_id=comment_id, network="facebook", account="clinic-fb",
                draft_id="d-1", author="Jordan Lee", url=f"https://facebook.example/c/{comment_id}",
                read_at=read_at, policy_version="p", categories=["adverse_event"], products=["Cardiozen"],
                drugs=[], elements=elements,
                findings=[{"category": "adverse_event", "text": "my hair fell out", "rule": "ae.side_effect",
                           "explanation": "A side effect someone had after taking a product"}],
                created_at=read_at,
            )
        )  # fmt: skip
        await session.flush()
        service = AeCaseService(session, audit=ui.audit, policy=ui.app.state.policy.policy.pharmacovigilance)
        case = await service.open(comment_id, f"s-{comment_id}")
        return case.id


COMPLETE: dict[str, str | None] = {
    "reporter": "Jordan Lee on facebook",
    "patient": "the reporter (first person)",
    "product": "Cardiozen",
    "event": "my hair fell out",
}


@pytest.fixture
async def cases(ui: Ui) -> tuple[str, str, FakeCaseWorkflows]:
    """An overdue case (read two days ago, nothing reported of the patient) and a fresh one."""
    now = utcnow()
    workflows = FakeCaseWorkflows()
    ui.app.state.comment_workflows = workflows
    late = await open_case(ui, "c-late", now - timedelta(days=2), elements={**COMPLETE, "patient": None})
    fresh = await open_case(ui, "c-fresh", now - timedelta(hours=1), elements=COMPLETE)
    return late, fresh, workflows


async def steps_of(ui: Ui, case_id: str) -> list[str]:
    return [e.kind for e in await ui.rows(AeCaseEvent) if e.case_id == case_id]


async def test_the_list_shows_open_cases_by_regulatory_time_left_with_overdue_marked(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, fresh, _ = cases
    await ui.sign_in(PHARMACOVIGILANCE)
    listing = await ui.http.get("/review/ae-cases")
    assert listing.status_code == 200
    html = listing.text
    assert 'href="/review/ae-cases"' in html  # in the navigation
    assert html.index(f'data-case-id="{late}"') < html.index(f'data-case-id="{fresh}"')
    late_row = re.search(rf'data-case-id="{late}".*?</tr>', html, re.S)
    fresh_row = re.search(rf'data-case-id="{fresh}".*?</tr>', html, re.S)
    assert late_row is not None and fresh_row is not None
    assert "<strong>Overdue</strong>: overdue by" in late_row.group(0) and "patient" in late_row.group(0)
    assert "Overdue" not in fresh_row.group(0) and "none" in fresh_row.group(0)
    assert "Cardiozen" in fresh_row.group(0)
    assert 'href="/review/ae-cases/export.csv"' in html

    exported = await ui.http.get("/review/ae-cases/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["case_id"] for r in rows} == {late, fresh}

    # Handed off, the late case's hand-off clock is met: it goes below the other open one.
    await post_form(
        ui, f"/review/ae-cases/{late}/hand-off", {"reference": "SDB-1"}, f"/review/ae-cases/{late}"
    )
    html = (await ui.http.get("/review/ae-cases")).text
    assert html.index(f'data-case-id="{fresh}"') < html.index(f'data-case-id="{late}"')


async def test_a_case_shows_its_comment_elements_clocks_and_steps_and_its_exports(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, _, _ = cases
    await ui.sign_in(COMPLIANCE)
    page = await ui.http.get(f"/review/ae-cases/{late}")
    assert page.status_code == 200
    html = page.text
    assert "Jordan Lee on facebook" in html and "my hair fell out" in html
    assert "A side effect someone had after taking a product" in html
    assert 'data-element="patient" data-present="no"' in html
    assert 'data-element="product" data-present="yes"' in html
    assert html.count("<strong>Overdue</strong>") == 1  # the hand-off; 13 days are left on the other
    assert 'data-step="opened"' in html
    assert "Log the follow-up" not in html  # compliance reads, does not act
    document = await ui.http.get(f"/review/ae-cases/{late}/export.json")
    assert document.status_code == 200 and json.loads(document.text)["case_id"] == late
    report = await ui.http.get(f"/review/ae-cases/{late}/export.pdf")
    assert report.status_code == 200 and report.content.startswith(b"%PDF")


async def test_pharmacovigilance_follows_up_hands_off_and_closes_through_the_service(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, _, workflows = cases
    await ui.sign_in(PHARMACOVIGILANCE)
    url = f"/review/ae-cases/{late}"
    assert "Log the follow-up" in (await ui.http.get(url)).text

    done = await post_form(
        ui, f"{url}/follow-up", {"template": "missing_information", "note": "asked for the age"}, url
    )
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=follow_up"
    done = await post_form(ui, f"{url}/hand-off", {"reference": "SDB-2026-0042"}, url)
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=handed_off"
    done = await post_form(ui, f"{url}/close", {"reason": "reported to the safety database"}, url)
    assert done.status_code == 303 and done.headers["location"] == f"{url}?done=closed"

    assert await steps_of(ui, late) == ["opened", "follow_up", "handed_off", "closed"]
    [case] = [c for c in await ui.rows(AeCase) if c.id == late]
    assert case.status == "closed" and case.handoff_reference == "SDB-2026-0042"
    assert (
        case.close_reason == "reported to the safety database" and case.closed_by == PHARMACOVIGILANCE.user_id
    )
    audited = [(e["action"], e["actor"]) for e in ui.audit.events if e["subject"] == f"ae_case:{late}"]
    assert audited == [
        ("ae_case.opened", "system:review"),
        ("ae_case.follow_up", PHARMACOVIGILANCE.user_id),
        ("ae_case.handed_off", PHARMACOVIGILANCE.user_id),
        ("ae_case.closed", PHARMACOVIGILANCE.user_id),
    ]
    assert workflows.told == [
        ("handed_off", "c-late", PHARMACOVIGILANCE.user_id),
        ("closed", "c-late", PHARMACOVIGILANCE.user_id),
    ]
    shown = (await ui.http.get(f"{url}?done=closed")).text
    assert "The case was closed" in shown and "SDB-2026-0042" in shown and "Close the case" not in shown


async def test_refusals_are_shown_on_the_case_page_with_what_was_typed(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, _, workflows = cases
    await ui.sign_in(ADMIN)
    url = f"/review/ae-cases/{late}"

    refused = await post_form(ui, f"{url}/close", {"reason": "no"}, url)
    assert refused.status_code == 422
    assert "Not done: closing a case needs a reason" in refused.text
    assert re.search(r'<textarea id="close-reason"[^>]*>no</textarea>', refused.text)

    refused = await post_form(ui, f"{url}/follow-up", {"template": "free_text", "note": "my own words"}, url)
    assert refused.status_code == 422 and "no follow-up template" in refused.text
    assert "my own words</textarea>" in refused.text

    refused = await post_form(ui, f"{url}/hand-off", {"reference": "   "}, url)
    assert refused.status_code == 422 and "reference is required" in refused.text

    await post_form(ui, f"{url}/hand-off", {"reference": "SDB-7"}, url)
    again = await post_form(ui, f"{url}/hand-off", {"reference": "SDB-8"}, url)
    assert again.status_code == 409 and "the case is handed_off" in again.text

    assert await steps_of(ui, late) == ["opened", "handed_off"]
    assert [e["action"] for e in ui.audit.events if e["subject"] == f"ae_case:{late}"] == [
        "ae_case.opened",
        "ae_case.handed_off",
    ]
    assert workflows.told == [("handed_off", "c-late", ADMIN.user_id)]


async def test_readers_and_workers_are_the_apis(ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]) -> None:
    late, _, workflows = cases
    url = f"/review/ae-cases/{late}"
    await ui.sign_in(AUDITOR)
    assert (await ui.http.get("/review/ae-cases")).status_code == 200
    assert (await ui.http.get(url)).status_code == 200
    refused = await post_form(ui, f"{url}/hand-off", {"reference": "SDB-9"}, url)
    assert refused.status_code == 403 and "only pharmacovigilance and admins" in refused.text
    for outsider in (AUTHOR, PUBLISHER):
        await ui.sign_in(outsider)
        assert (await ui.http.get("/review/ae-cases")).status_code == 403
        assert (await ui.http.get(f"{url}/export.json")).status_code == 403
        assert 'href="/review/ae-cases"' not in (await ui.http.get("/review/my")).text
    assert await steps_of(ui, late) == ["opened"] and workflows.told == []


async def test_a_step_without_the_forms_token_or_from_another_site_changes_nothing(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, _, _ = cases
    await ui.sign_in(PHARMACOVIGILANCE)
    url = f"/review/ae-cases/{late}"
    no_token = await ui.http.post(f"{url}/close", data={"reason": "closing it"}, headers=SAME_ORIGIN)
    assert no_token.status_code == 403
    token = await ui.csrf(url)
    cross = await ui.http.post(
        f"{url}/close",
        data={"reason": "closing it", "csrf_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert await steps_of(ui, late) == ["opened"]


async def test_a_clocks_escalation_reaches_the_inbox_page_linked_to_the_case(
    ui: Ui, cases: tuple[str, str, FakeCaseWorkflows]
) -> None:
    late, _, _ = cases
    await ui.sign_in(PHARMACOVIGILANCE)
    await ui.http.get("/review/ae-cases")  # the service knows them (and their role) from a page on
    async with ui.app.state.sessionmaker() as session, session.begin():
        service = AeCaseService(session, audit=ui.audit, policy=ui.app.state.policy.policy.pharmacovigilance)
        assert await service.clock_passed(late, "handoff", "escalation")
    async with httpx.AsyncClient() as http:
        deliverer = Deliverer(ui.app.state.sessionmaker, public_url="http://test", mailer=None, http=http)
        await deliverer.fan_out()
    inbox = (await ui.http.get("/review/notifications")).text
    assert 'data-kind="ae_case.escalated"' in inbox
    assert f'href="/review/ae-cases/{late}"' in inbox and "handoff clock" in inbox
    assert "Jordan Lee" not in inbox and "hair" not in inbox
    case_page = (await ui.http.get(f"/review/ae-cases/{late}")).text
    assert 'data-step="escalation"' in case_page
