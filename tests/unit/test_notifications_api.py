"""/api/v1/notifications through the review app: preferences, the inbox, webhook endpoints and dead
letters (admin only, audited), bad input refused with 422 and a reason; and the app's own deliverer
sending to a real SMTP server from the CLEARPOST_SMTP_* settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.kit.tokens import Principal
from tests.database import DatabaseFactory
from tests.smtp import SmtpServer
from tests.unit.screening_fixtures import AUTHOR, COMPLIANCE, LEGAL, Api, review_api_under_review
from tests.webhook import WebhookReceiver

ADMIN = Principal("u-admin", "admin@t", "Ada Admin", frozenset({"admin"}))
URL = "/api/v1/notifications"


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    with SmtpServer(username="clearpost", password="s3cret") as smtp:
        for name, value in {
            "CLEARPOST_SMTP_HOST": "127.0.0.1",
            "CLEARPOST_SMTP_PORT": str(smtp.port),
            "CLEARPOST_SMTP_STARTTLS": "false",
            "CLEARPOST_SMTP_USERNAME": "clearpost",
            "CLEARPOST_SMTP_PASSWORD_FILE": str(password),
            "CLEARPOST_SMTP_FROM": "reviews@clinic.example",
            "CLEARPOST_PUBLIC_URL": "https://clearpost.clinic.example",
            "CLEARPOST_NOTIFY_INTERVAL_SECONDS": "3600",  # the tests run the passes themselves
            "CLEARPOST_NOTIFY_WEBHOOK_BACKOFF_SECONDS": "0",
            "CLEARPOST_NOTIFY_WEBHOOK_ATTEMPTS": "2",
        }.items():
            monkeypatch.setenv(name, value)
        async with review_api_under_review(
            tmp_path, monkeypatch, database, title="Walk", body="Join us."
        ) as api:
            api.app.state.smtp_server = smtp
            yield api


async def test_preferences_round_trip_and_refuse_bad_input_with_a_reason(api: Api) -> None:
    response = await api.http.get(f"{URL}/preferences", headers=api.auth(COMPLIANCE))
    assert response.status_code == 200, response.text
    assert response.json() == {"email": None, "channels": {}, "digest": "off"}
    chosen = {"email": "casey@clinic.example", "channels": {"review.reminder": ["inbox"]}, "digest": "daily"}
    response = await api.http.put(f"{URL}/preferences", json=chosen, headers=api.auth(COMPLIANCE))
    assert response.status_code == 200, response.text
    assert (await api.http.get(f"{URL}/preferences", headers=api.auth(COMPLIANCE))).json() == chosen
    for bad, where in [
        ({"digest": "weekly"}, "digest"),
        ({"channels": {"review.reminder": ["sms"]}}, "channels"),
        ({"channels": {"post.liked": ["inbox"]}}, "channels"),
        ({"email": "casey@clinic.example\r\nBcc: x@y.org"}, "email"),
        ({"sms": "+1555"}, "sms"),
    ]:
        response = await api.http.put(f"{URL}/preferences", json=bad, headers=api.auth(COMPLIANCE))
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"] == "invalid"
        assert where in str(response.json()["detail"][0]["loc"])
    assert (await api.http.get(f"{URL}/preferences")).status_code == 401


async def test_a_requested_review_arrives_by_email_and_in_the_inbox_which_marks_it_read(api: Api) -> None:
    chosen = {"email": "casey@clinic.example"}
    assert (
        await api.http.put(f"{URL}/preferences", json=chosen, headers=api.auth(COMPLIANCE))
    ).status_code == 200
    # The fixture opened the compliance and legal tasks; `role:compliance` is expanded at delivery,
    # to everyone the service knows with that role by then.
    await api.app.state.deliverer.deliver()
    inbox = (await api.http.get(f"{URL}/inbox", headers=api.auth(COMPLIANCE))).json()
    assert inbox["unread"] == 1
    [item] = inbox["items"]
    assert item["event"]["kind"] == "review.requested" and item["event"]["stage"] == "compliance"
    assert item["event"]["link"] == "https://clearpost.clinic.example/review/drafts/d-1"
    assert item["summary"] == "A review is waiting for you" and item["read_at"] is None
    [mail] = api.app.state.smtp_server.messages
    assert mail["To"] == "casey@clinic.example" and mail["From"] == "reviews@clinic.example"

    response = await api.http.post(f"{URL}/inbox/{item['id']}/read", headers=api.auth(LEGAL))
    assert response.status_code == 404  # not Lena's
    response = await api.http.post(f"{URL}/inbox/{item['id']}/read", headers=api.auth(COMPLIANCE))
    assert response.status_code == 200 and response.json()["read_at"] is not None
    assert (await api.http.get(f"{URL}/inbox", headers=api.auth(COMPLIANCE))).json()["unread"] == 0


async def _remind(api: Api, stage: str) -> None:
    from services.review.activities import ReviewActivities
    from tests.unit.review_fixtures import SIGNER
    from workflows.contracts import NoticeDue

    state = api.app.state
    activities = ReviewActivities(state.sessionmaker, state.policy, state.drafts, signer=SIGNER)
    await activities.record_review_notice(
        NoticeDue("d-1", 1, api.hash, stage, "reminder", 1, "2026-12-03T09:00:00+00:00")
    )


async def test_webhooks_are_admin_only_refuse_bad_urls_and_are_audited(api: Api) -> None:
    body = {"url": "https://chat.example/hooks/1", "kinds": ["review.escalated", "review.reminder"]}
    assert (
        await api.http.post(f"{URL}/webhooks", json=body, headers=api.auth(COMPLIANCE))
    ).status_code == 403
    assert (await api.http.get(f"{URL}/webhooks", headers=api.auth(AUTHOR))).status_code == 403
    assert (await api.http.get(f"{URL}/dead-letters", headers=api.auth(AUTHOR))).status_code == 403
    for bad in [
        {**body, "url": "ftp://chat.example/x"},
        {**body, "url": "file:///etc/passwd"},
        {**body, "kinds": []},
        {**body, "kinds": ["post.liked"]},
    ]:
        response = await api.http.post(f"{URL}/webhooks", json=bad, headers=api.auth(ADMIN))
        assert response.status_code == 422, (bad, response.text)
    response = await api.http.post(f"{URL}/webhooks", json=body, headers=api.auth(ADMIN))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_") and created["kinds"] == [
        "review.reminder",
        "review.escalated",
    ]
    listed = (await api.http.get(f"{URL}/webhooks", headers=api.auth(ADMIN))).json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]  # shown once
    assert (
        await api.http.delete(f"{URL}/webhooks/{created['id']}", headers=api.auth(ADMIN))
    ).status_code == 204
    assert (
        await api.http.delete(f"{URL}/webhooks/{created['id']}", headers=api.auth(ADMIN))
    ).status_code == 404
    assert (await api.http.get(f"{URL}/webhooks", headers=api.auth(ADMIN))).json()["webhooks"] == []
    events = [e for e in api.audit.events if e["action"].startswith("notification.")]
    assert [e["action"] for e in events] == ["notification.webhook_created", "notification.webhook_deleted"]
    assert all(e["actor"] == ADMIN.user_id and e["subject"] == f"webhook:{created['id']}" for e in events)
    assert created["secret"] not in str(api.audit.events)


async def test_a_failing_receiver_ends_on_the_dead_letter_list_an_admin_replays(api: Api) -> None:
    with WebhookReceiver(b"") as receiver:
        body = {"url": receiver.endpoint, "kinds": ["review.reminder"]}
        created = (await api.http.post(f"{URL}/webhooks", json=body, headers=api.auth(ADMIN))).json()
        receiver.secret = created["secret"].encode()
        receiver.answer_next(500)
        receiver.answer_next(502)
        await _remind(api, "legal")
        await api.app.state.deliverer.deliver()
        await api.app.state.deliverer.deliver()  # two attempts: dead
        [dead] = (await api.http.get(f"{URL}/dead-letters", headers=api.auth(ADMIN))).json()["dead_letters"]
        assert (
            dead["attempts"] == 2
            and dead["last_error"] == "HTTP 502"
            and dead["endpoint_id"] == created["id"]
        )
        response = await api.http.post(
            f"{URL}/dead-letters/{dead['id']}/replay", headers=api.auth(COMPLIANCE)
        )
        assert response.status_code == 403
        response = await api.http.post(f"{URL}/dead-letters/{dead['id']}/replay", headers=api.auth(ADMIN))
        assert response.status_code == 200, response.text
        assert (
            await api.http.post(f"{URL}/dead-letters/{dead['id']}/replay", headers=api.auth(ADMIN))
        ).status_code == 404
        await api.app.state.deliverer.deliver()
        [post] = receiver.posts()
        assert post.signature_ok and post.json["id"] == dead["event"]["id"]
    assert (await api.http.get(f"{URL}/dead-letters", headers=api.auth(ADMIN))).json()["dead_letters"] == []
    assert "notification.dead_letter_replayed" in api.audit.actions()
