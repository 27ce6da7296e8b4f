"""The review UI's channel accounts page over HTTP (no browser): who sees it, connecting Mastodon and
Bluesky accounts, starting an OAuth network's flow, checking and disconnecting, and every refusal
shown in the page with what was typed kept (never a credential).

Same fixture as test_review_ui.py (real review database, fakes behind the UI's interfaces), with the
fake publisher of review_ui_publisher.py.
"""

from __future__ import annotations

import re

import pytest

from services.kit.tokens import Principal
from services.review.ui.security import CONTENT_SECURITY_POLICY
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import ADMIN, AUTHOR, COMPLIANCE, LEGAL, PUBLISHER, SAME_ORIGIN, Ui
from tests.unit.review_ui_publisher import (
    AUTHORIZE_URL,
    UNREACHABLE,
    FakePublisherApi,
    account,
    install,
    post_form,
)

ui = base.ui  # the same fixture: the review app on a real database, fakes behind the UI's interfaces


@pytest.fixture
def publisher(ui: Ui) -> FakePublisherApi:
    fake = install(ui)
    fake.accounts["clinic-masto"] = account("clinic-masto")
    fake.accounts["clinic-fb"] = account("clinic-fb", "facebook", "expired")
    fake.accounts["clinic-bsky"] = account("clinic-bsky", "bluesky", "revoked", paused=True)
    fake.accounts["clinic-x"] = account("clinic-x", "x", "missing_scopes")
    fake.accounts["clinic-li"] = account("clinic-li", "linkedin", "unreachable")
    fake.accounts["old"] = account("old", "mastodon", "disconnected")
    return fake


def row(html: str, name: str) -> str:
    found = re.search(rf'<tr data-account="{re.escape(name)}">(.*?)</tr>', html, re.S)
    assert found is not None, name
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


async def test_admins_see_every_account_state_in_words_and_symbols(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    page = await ui.http.get("/review/channels")

    assert page.status_code == 200
    html = page.text
    assert "✓ OK" in row(html, "clinic-masto") and "Mastodon" in row(html, "clinic-masto")
    assert "⌛ Expired" in row(html, "clinic-fb") and "token is expired" in row(html, "clinic-fb")
    assert "✗ Revoked" in row(html, "clinic-bsky") and "Paused" in row(html, "clinic-bsky")
    assert "! Missing permissions" in row(html, "clinic-x")
    assert "? Unreachable" in row(html, "clinic-li")
    assert "Disconnected" in row(html, "old") and "Check now" not in row(html, "old")
    assert html.count("Check now") == 5 and html.count(">Disconnect</button>") == 5
    for heading in ("Connect a Mastodon account", "Connect a Bluesky account", "Connect a Facebook"):
        assert heading in html
    # every form field has its label
    for field_id in ("mastodon-name", "mastodon-url", "mastodon-token", "bluesky-handle", "oauth-target"):
        assert f'<label for="{field_id}">' in html and f'id="{field_id}"' in html
    assert 'href="/review/channels"' in html  # in the navigation


@pytest.mark.parametrize("who", [PUBLISHER, COMPLIANCE])
async def test_publishers_and_compliance_see_the_accounts_but_no_forms(
    ui: Ui, publisher: FakePublisherApi, who: Principal
) -> None:
    await ui.sign_in(who)

    html = (await ui.http.get("/review/channels")).text
    refused = await post_form(
        ui, "/review/channels/mastodon", {"name": "n", "base_url": "https://m.example", "access_token": "t"}
    )
    checked = await post_form(ui, "/review/channels/clinic-masto/check", {})

    assert "clinic-masto" in html and "Connect a Mastodon account" not in html and "Check now" not in html
    assert refused.status_code == 403 and checked.status_code == 403
    assert "only admins connect" in refused.text
    assert publisher.sent == []


@pytest.mark.parametrize("who", [AUTHOR, LEGAL])
async def test_others_get_no_channels_page(ui: Ui, publisher: FakePublisherApi, who: Principal) -> None:
    await ui.sign_in(who)

    page = await ui.http.get("/review/channels")

    assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.text
    assert 'href="/review/channels"' not in (await ui.http.get("/review/my")).text


async def test_an_admin_connects_a_mastodon_account(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(ADMIN)

    answer = await post_form(
        ui,
        "/review/channels/mastodon",
        {"name": " clinic-2 ", "base_url": "https://mastodon.example", "access_token": "tok-1"},
    )

    assert answer.status_code == 303 and answer.headers["location"] == "/review/channels?connected=clinic-2"
    assert publisher.sent == [
        (
            "connect",
            {
                "network": "mastodon",
                "name": "clinic-2",
                "base_url": "https://mastodon.example",
                "access_token": "tok-1",
            },
        )
    ]
    page = await ui.http.get(answer.headers["location"])
    assert 'role="status"' in page.text and "Connected: clinic-2." in page.text
    assert "clinic-2" in row(page.text, "clinic-2")


async def test_a_refused_mastodon_token_is_explained_and_the_rest_is_kept(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    answer = await post_form(
        ui,
        "/review/channels/mastodon",
        {"name": "clinic-2", "base_url": "https://mastodon.example", "access_token": "wrong-token"},
    )

    assert answer.status_code == 400
    alert = re.search(r'id="mastodon-error"><p>(.*?)</p>', answer.text)
    assert alert is not None
    assert (
        "Nothing was connected: mastodon refused the access token: The access token is invalid"
        in alert.group(1)
    )
    assert 'id="mastodon-name" name="name" type="text" value="clinic-2"' in answer.text
    assert 'value="https://mastodon.example"' in answer.text
    assert "wrong-token" not in answer.text  # the credential is never echoed
    assert "Enter it again." in answer.text
    assert "clinic-2" not in publisher.accounts


async def test_a_publisher_that_does_not_answer_is_shown_in_the_page(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)
    publisher.fail_next = UNREACHABLE

    answer = await post_form(
        ui,
        "/review/channels/bluesky",
        {"name": "clinic-b", "identifier": "clinic.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"},
    )

    assert answer.status_code == 503
    assert 'id="bluesky-error"' in answer.text and "did not answer; try again" in answer.text
    assert 'value="clinic-b"' in answer.text and 'value="clinic.bsky.social"' in answer.text
    assert "abcd-efgh" not in answer.text
    assert publisher.sent[0] == (
        "connect",
        {
            "network": "bluesky",
            "name": "clinic-b",
            "identifier": "clinic.bsky.social",
            "app_password": "abcd-efgh-ijkl-mnop",
            "base_url": None,
        },
    )


async def test_an_oauth_network_sends_the_browser_to_its_authorization_page(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    answer = await post_form(
        ui, "/review/channels/authorize", {"network": "facebook", "name": "clinic-page", "target": "1234"}
    )

    assert answer.status_code == 303 and answer.headers["location"] == AUTHORIZE_URL
    assert publisher.sent == [("authorize", {"network": "facebook", "name": "clinic-page", "target": "1234"})]
    # The form's page lets a form post be redirected to the network (form-action covers redirects).
    policy = (await ui.http.get("/review/channels")).headers["content-security-policy"]
    assert "form-action 'self' https: http://127.0.0.1:*" in policy
    assert (await ui.http.get("/review/my")).headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # Back from the network (the publisher's callback redirects here): a confirmation.
    back = await ui.http.get("/review/channels?connected=clinic-page")
    assert "Connected: clinic-page." in back.text


async def test_a_refused_oauth_start_keeps_the_network_name_and_target(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    answer = await post_form(
        ui, "/review/channels/authorize", {"network": "linkedin", "name": "clinic-li2", "target": "org-9"}
    )

    assert answer.status_code == 400
    assert "The connection was not started: linkedin is not configured: no client_id" in answer.text
    assert '<option value="linkedin" selected>' in answer.text
    assert 'value="clinic-li2"' in answer.text and 'value="org-9"' in answer.text


async def test_check_now_and_disconnect(ui: Ui, publisher: FakePublisherApi) -> None:
    await ui.sign_in(ADMIN)

    checked = await post_form(ui, "/review/channels/clinic-masto/check", {})
    gone = await post_form(ui, "/review/channels/clinic-fb/disconnect", {})
    missing = await post_form(ui, "/review/channels/nobody/check", {})

    assert (
        checked.status_code == 303 and checked.headers["location"] == "/review/channels?checked=clinic-masto"
    )
    assert "Checked clinic-masto" in (await ui.http.get(checked.headers["location"])).text
    assert gone.status_code == 303
    page = await ui.http.get(gone.headers["location"])
    assert "Disconnected clinic-fb" in page.text and "Disconnected" in row(page.text, "clinic-fb")
    assert missing.status_code == 404
    assert "nobody was not checked: no channel account &#39;nobody&#39;" in missing.text
    assert [s[0] for s in publisher.sent] == ["check", "disconnect", "check"]


async def test_channel_forms_need_the_sessions_token_and_our_own_origin(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)
    token = await ui.csrf("/review/channels")

    no_token = await ui.http.post("/review/channels/clinic-masto/disconnect", headers=SAME_ORIGIN)
    cross_site = await ui.http.post(
        "/review/channels/clinic-masto/disconnect",
        data={"csrf_token": token},
        headers={"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )

    assert no_token.status_code == 403 and cross_site.status_code == 403
    assert publisher.sent == [] and publisher.accounts["clinic-masto"]["status"] == "ok"


async def test_the_accounts_list_failing_is_said_and_the_forms_still_work(
    ui: Ui, publisher: FakePublisherApi
) -> None:
    await ui.sign_in(ADMIN)

    async def down(token: str) -> list[dict[str, object]]:
        raise UNREACHABLE

    publisher.channel_accounts = down  # type: ignore[method-assign]
    page = await ui.http.get("/review/channels")

    assert page.status_code == 200
    assert "The accounts could not be read:" in page.text and "did not answer" in page.text
    assert "Connect a Mastodon account" in page.text
