"""The review UI's takedown form and publications on the draft page, the Publishing page (pause and
resume), the pause banner on every page, and the content calendar, over HTTP (no browser).

Same fixture as test_review_ui.py, with the fake publisher of review_ui_publisher.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.kit.clock import utcnow
from services.kit.tokens import Principal
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import ADMIN, AUTHOR, COMPLIANCE, LEGAL, PASSWORD, PUBLISHER, Ui
from tests.unit.review_ui_publisher import (
    UNREACHABLE,
    FakePublisherApi,
    account,
    install,
    live_post,
    post_form,
    publication,
)

ui = base.ui  # the same fixture: the review app on a real database, fakes behind the UI's interfaces


@pytest.fixture
def publisher(ui: Ui) -> FakePublisherApi:
    fake = install(ui)
    fake.accounts["clinic-masto"] = account("clinic-masto")
    return fake


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def published(publisher: FakePublisherApi, status: str = "published") -> None:
    publisher.drafts_by_id["d-1"]["status"] = status
    publisher.publications_by_draft["d-1"] = [
        publication("clinic-masto", "mastodon"),
        publication("clinic-bsky", "bluesky"),
    ]


# --- takedown on the draft page -------------------------------------------------------------------


@pytest.mark.parametrize("who", [PUBLISHER, COMPLIANCE, ADMIN])
async def test_a_published_draft_shows_where_it_went_and_a_takedown_form(
    ui: Ui, publisher: FakePublisherApi, who: Principal
) -> None:
    published(publisher)
    await ui.sign_in(who)

    html = (await ui.http.get("/review/drafts/d-1")).text

    table = html[html.index('id="publications"') : html.index('id="stages-h"')]
    assert '<a href="https://mastodon.example/@clinic/clinic-masto" rel="noopener noreferrer">' in table
    assert "bluesky" in table and "✓ Published" in text_of(table)
    assert '<label for="takedown-reason">' in table and '<label for="takedown-password">' in table
    assert "Take down from every network" in table


@pytest.mark.parametrize("who", [LEGAL, AUTHOR])
async def test_no_takedown_form_for_other_roles(ui: Ui, publisher: FakePublisherApi, who: Principal) -> None:
    published(publisher)
    await ui.sign_in(who)

    html = (await ui.http.get("/review/drafts/d-1")).text
    refused = await post_form(
        ui, "/review/drafts/d-1/takedown", {"reason": "wrong dose", "password": PASSWORD}
    )

    assert "mastodon.example/@clinic" in html and "Take down from every network" not in html
    assert refused.status_code == 403 and publisher.sent == []


async def test_takedown_is_sent_with_reason_and_password_and_says_it_is_under_way(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    published(publisher)
    await ui.sign_in(PUBLISHER)

    answer = await post_form(
        ui,
        "/review/drafts/d-1/takedown",
        {"reason": "  The dose in the post is wrong. ", "password": PASSWORD},
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/review/drafts/d-1?takedown=started#publications"
    assert publisher.sent == [("takedown", {"draft_id": "d-1", "reason": "The dose in the post is wrong."})]
    page = await ui.http.get("/review/drafts/d-1?takedown=started")
    assert "Takedown under way" in page.text


async def test_a_wrong_password_takes_nothing_down_and_keeps_the_reason(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    published(publisher)
    await ui.sign_in(COMPLIANCE)

    answer = await post_form(
        ui, "/review/drafts/d-1/takedown", {"reason": "Consent withdrawn", "password": "not-it"}
    )

    assert answer.status_code == 403
    assert 'id="takedown-error"' in answer.text
    assert "Nothing was taken down: the password did not match" in answer.text
    assert ">Consent withdrawn</textarea>" in answer.text and "not-it" not in answer.text


async def test_a_takedown_needs_a_reason_and_a_password_before_anything_is_sent(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    published(publisher)
    await ui.sign_in(COMPLIANCE)

    no_reason = await post_form(ui, "/review/drafts/d-1/takedown", {"reason": " ", "password": PASSWORD})
    no_password = await post_form(ui, "/review/drafts/d-1/takedown", {"reason": "bad post", "password": ""})

    assert no_reason.status_code == 422 and "a reason (at least 3 characters) is required" in no_reason.text
    assert no_password.status_code == 422 and "enter your password" in no_password.text
    assert ">bad post</textarea>" in no_password.text
    assert publisher.sent == []


async def test_a_takedown_the_publisher_cannot_start_is_shown_with_its_reason(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    published(publisher)
    await ui.sign_in(COMPLIANCE)
    publisher.fail_next = UNREACHABLE

    answer = await post_form(ui, "/review/drafts/d-1/takedown", {"reason": "bad post", "password": PASSWORD})

    assert answer.status_code == 503
    assert "did not answer; try again" in answer.text and ">bad post</textarea>" in answer.text


@pytest.mark.parametrize(
    ("status", "label"),
    [("taken_down", "⊘ Taken down"), ("takedown_failed", "✗ Takedown failed"), ("held", "‖ Held")],
)
async def test_draft_statuses_after_publishing_have_their_labels(
    ui: Ui, publisher: FakePublisherApi, status: str, label: str
) -> None:
    publisher.drafts_by_id["d-1"]["status"] = status
    await ui.sign_in(COMPLIANCE)

    html = (await ui.http.get("/review/drafts/d-1")).text

    assert label in text_of(html[html.index('class="facts"') : html.index("</dl>")])


async def test_a_removed_publication_shows_the_networks_answer(ui: Ui, publisher: FakePublisherApi) -> None:
    published(publisher, "takedown_failed")  # one copy removed, the other still up
    publisher.publications_by_draft["d-1"][0].update(
        status="removed",
        removed_at="2026-12-02T09:15:00+00:00",
        removal={"status_code": 200, "answer": '{"id": "ext-clinic-masto"}', "already_gone": False},
    )
    await ui.sign_in(COMPLIANCE)

    html = (await ui.http.get("/review/drafts/d-1")).text

    found = re.search(r'<tr data-channel="clinic-masto">(.*?)</tr>', html, re.S)
    assert found is not None
    removed = text_of(found.group(1))
    assert "⊘ Removed" in removed and "Removed at 2026-12-02T09:15:00+00:00" in removed
    assert "The network answered 200: “{&#34;id&#34;: &#34;ext-clinic-masto&#34;}”" in removed
    assert "Take down from every network" in html  # the bluesky copy is still up: try again


# --- the pause banner and the Publishing page ---------------------------------------------------------


async def test_every_page_shows_the_banner_while_all_publishing_is_paused(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    publisher.pauses.append(
        {"id": "pz", "scope": "all", "reason": "Recall of a drug", "paused_by": "u-comp", "paused_at": "t"}
    )
    publisher.held.append("d-7")
    await ui.sign_in(LEGAL)

    for path in ("/review/queue", "/review/drafts/d-1", "/review/calendar", "/review/drafts/nope"):
        html = (await ui.http.get(path)).text
        banner = text_of(html[html.index('id="pause-banner"') : html.index("</section>")])
        assert "Publishing is paused everywhere." in banner and "Recall of a drug" in banner
        assert "d-7" in banner and "Publishing page" not in banner  # legal may not resume


async def test_no_banner_for_an_account_pause_or_when_the_publisher_is_silent(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    publisher.pauses.append(
        {"id": "pz", "scope": "clinic-masto", "reason": "r", "paused_by": "u", "paused_at": "t"}
    )
    await ui.sign_in(COMPLIANCE)
    assert "pause-banner" not in (await ui.http.get("/review/queue")).text
    publisher.publishing_down = True
    page = await ui.http.get("/review/queue")
    assert page.status_code == 200 and "pause-banner" not in page.text


async def test_compliance_pauses_everything_and_resumes(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(COMPLIANCE)
    page = await ui.http.get("/review/publishing")
    assert page.status_code == 200 and "Publishing is running." in page.text
    assert '<option value="clinic-masto"' in page.text

    paused = await post_form(
        ui, "/review/publishing/pause", {"reason": "Recall", "password": PASSWORD, "account": ""}
    )
    assert (
        paused.status_code == 303 and paused.headers["location"] == "/review/publishing?done=paused&scope=all"
    )
    html = (await ui.http.get(paused.headers["location"])).text
    assert "Paused all publishing." in html and "All publishing is paused." in html
    assert 'id="pause-banner"' in html and "Publishing page" in html

    publisher.held.extend(["d-7", "d-8"])
    resumed = await post_form(
        ui, "/review/publishing/resume", {"reason": "Recall over", "password": PASSWORD, "account": ""}
    )
    html = (await ui.http.get(resumed.headers["location"])).text
    assert "Resumed all publishing; 2 held posts will publish now" in html
    assert 'id="pause-banner"' not in html
    assert publisher.sent == [
        ("pause", {"reason": "Recall", "account": None}),
        ("resume", {"reason": "Recall over", "account": None}),
    ]


async def test_one_account_is_paused_and_a_wrong_password_keeps_what_was_typed(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    wrong = await post_form(
        ui, "/review/publishing/pause", {"reason": "Bad token", "password": "nope", "account": "clinic-masto"}
    )
    right = await post_form(
        ui,
        "/review/publishing/pause",
        {"reason": "Bad token", "password": PASSWORD, "account": "clinic-masto"},
    )

    assert wrong.status_code == 403 and 'id="pause-error"' in wrong.text
    assert "Nothing was paused: the password did not match" in wrong.text
    assert ">Bad token</textarea>" in wrong.text and '<option value="clinic-masto" selected>' in wrong.text
    assert "nope" not in wrong.text
    assert right.headers["location"] == "/review/publishing?done=paused&scope=clinic-masto"
    assert "Paused account clinic-masto." in (await ui.http.get(right.headers["location"])).text


async def test_wrong_passwords_are_limited_like_signing(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(COMPLIANCE)
    fields = {"reason": "Recall", "password": "nope"}
    for _ in range(3):  # the fixture's limit per account
        await post_form(ui, "/review/publishing/pause", fields)

    blocked = await post_form(ui, "/review/publishing/pause", {**fields, "password": PASSWORD})

    assert blocked.status_code == 429 and "too many wrong passwords" in blocked.text
    assert len(publisher.sent) == 3 and publisher.pauses == []


@pytest.mark.parametrize("who", [LEGAL, PUBLISHER, AUTHOR])
async def test_the_publishing_page_is_for_compliance_and_admins(
    ui: Ui, publisher: FakePublisherApi, who: Principal
) -> None:
    await ui.sign_in(who)

    page = await ui.http.get("/review/publishing")
    refused = await post_form(ui, "/review/publishing/pause", {"reason": "Recall", "password": PASSWORD})

    assert page.status_code == 403 and refused.status_code == 403 and publisher.sent == []
    assert 'href="/review/publishing"' not in (await ui.http.get("/review/my")).text


# --- the calendar --------------------------------------------------------------------------------


def monday_of(day: datetime) -> datetime:
    return (day - timedelta(days=day.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


async def test_the_calendar_shows_scheduled_held_and_live_posts_by_day(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    week = monday_of(utcnow()) + timedelta(days=7)  # next week, whatever today is
    drafts = publisher.drafts_by_id
    drafts["d-2"] = {**drafts["d-1"], "id": "d-2", "title": "Flu shots", "status": "scheduled",
                     "scheduled_at": (week + timedelta(days=1, hours=9)).isoformat(),
                     "channels": ["clinic-masto"]}  # fmt: skip
    drafts["d-3"] = {**drafts["d-1"], "id": "d-3", "title": "Held one", "status": "held",
                     "scheduled_at": (week + timedelta(days=2, hours=14)).isoformat()}  # fmt: skip
    drafts["d-4"] = {
        **drafts["d-1"],
        "id": "d-4",
        "title": "Held now",
        "status": "held",
        "scheduled_at": None,
    }
    drafts["d-5"] = {**drafts["d-1"], "id": "d-5", "title": "Went live", "status": "published"}
    publisher.live.append(
        live_post("d-5", (week + timedelta(days=4, hours=8)).isoformat(),
                  expires_at=(week + timedelta(days=20)).isoformat())
    )  # fmt: skip
    publisher.publications_by_draft["d-5"] = [publication("clinic-masto", "mastodon", draft_id="d-5")]
    year, number, _ = week.isocalendar()
    await ui.sign_in(PUBLISHER)

    page = await ui.http.get(f"/review/calendar?week={year}-W{number:02d}")

    assert page.status_code == 200
    html = page.text
    days = re.findall(r'<section aria-labelledby="day-([0-9-]+)" class="day">(.*?)</section>', html, re.S)
    assert [d for d, _ in days] == [(week + timedelta(days=n)).date().isoformat() for n in range(7)]
    by_day = {d: text_of(body) for d, body in days}
    tuesday, wednesday, friday = (week + timedelta(days=n) for n in (1, 2, 4))
    assert "09:00 Scheduled: Flu shots — • Scheduled" in by_day[tuesday.date().isoformat()]
    assert "On clinic-masto" in by_day[tuesday.date().isoformat()]
    assert "14:00 Scheduled: Held one — ‖ Held (publishing is paused)" in by_day[wednesday.date().isoformat()]
    live = by_day[friday.date().isoformat()]
    assert (
        "08:00 Live: Went live — ✓ Live" in live and "https://mastodon.example/@clinic/clinic-masto" in live
    )
    assert "Nothing scheduled or published." in by_day[week.date().isoformat()]
    assert "Held without a set time" in html and "Held now" in html
    expiring = text_of(html[html.index('id="expiring-h"') :])
    assert "Went live" in expiring and "Taken down" in expiring
    assert publisher.live_queries[0]["start"] == week.replace(tzinfo=UTC)
    assert publisher.live_queries[0]["end"] == week.replace(tzinfo=UTC) + timedelta(days=7)
    assert publisher.live_queries[1]["expiring_within_days"] == 30
    assert f'href="/review/calendar?start={(week - timedelta(days=7)).date().isoformat()}&amp;days=7"' in html


async def test_a_day_view_and_refusals(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(COMPLIANCE)

    day = await ui.http.get("/review/calendar?start=2026-12-02&days=1")
    bad = await ui.http.get("/review/calendar?week=2026-49")
    publisher.fail_next = UNREACHABLE
    down = await ui.http.get("/review/calendar")

    assert (
        day.status_code == 200 and day.text.count('class="day"') == 1 and "Wednesday 02 December" in day.text
    )
    assert bad.status_code == 422 and "the week is YYYY-Www" in bad.text
    assert down.status_code == 200 and "Live posts are not available:" in down.text


async def test_authors_get_no_calendar(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(AUTHOR)

    assert (await ui.http.get("/review/calendar")).status_code == 403
    assert 'href="/review/calendar"' not in (await ui.http.get("/review/my")).text


async def test_the_flow_page_charts_each_stage_week_by_week_for_reviewers_only(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    page = await ui.http.get("/review/flow?weeks=4")

    assert page.status_code == 200
    html = page.text
    assert '<a href="/review/flow">Flow</a>' in html
    sections = re.findall(r'<section aria-labelledby="stage-\d+">\s*<h2 id="stage-\d+">([^<]+)</h2>', html)
    assert "compliance" in sections
    assert html.count('<svg role="img"') == 3 * len(sections)
    assert "Waiting at the end of the week" in html and "Hours from opening to decision" in html
    weeks = re.findall(r'<th scope="row">(\d{4}-W\d{2})</th>', html)
    assert len(weeks) == 4 * len(sections) and weeks[3] == "{}-W{:02d}".format(*utcnow().isocalendar()[:2])

    await ui.sign_in(AUTHOR)
    refused = await ui.http.get("/review/flow")
    assert refused.status_code == 403
    assert '<a href="/review/flow">' not in refused.text
