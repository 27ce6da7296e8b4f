"""Channel accounts through the publisher's API, against network fakes on loopback: connect (with
credentials, and through the OAuth browser flow), list with state, check, disconnect; pause and
resume; the publish activity holding a paused post; takedown through the adapters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from services.kit.auth import StaticKeySet
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from services.publisher.activities import PublisherActivities
from services.publisher.main import app
from services.publisher.models import ChannelAccount, LivePost, Publication
from services.publisher.takedowns import LivePostActivities, TakedownService
from tests.database import DatabaseFactory
from tests.fakes.networks.mastodon import FakeMastodon
from tests.fakes.networks.mastodon import create_app as mastodon_app
from tests.fakes.networks.x import FakeXState
from tests.fakes.networks.x import create_app as x_app
from tests.fakes.serve import ServedApp
from tests.unit.publisher_fixtures import FakeDrafts, approval_gate, configure, draft_version, signed_request
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import LivePostInput, TakedownInput

TOKEN = "mastodon-token-1"
PASSWORD = "correct horse"


class Passwords:
    """The gateway's password check, as the publisher asks it: one right password for everyone."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def confirms(self, username: str, password: str) -> bool:
        self.asked.append(username)
        return password == PASSWORD


@dataclass
class Api:
    http: httpx.AsyncClient
    key: SigningKey
    audit: RecordingAudit
    mastodon: FakeMastodon
    mastodon_url: str
    x: FakeXState
    x_url: str

    def headers(self, *roles: str, user: str = "u-admin") -> dict[str, str]:
        principal = Principal(user_id=user, username=user, name=user.title(), roles=frozenset(roles))
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )
        return {"Authorization": f"Bearer {token}"}

    async def connect_mastodon(self, name: str = "clinic-mastodon", token: str = TOKEN) -> httpx.Response:
        body = {"network": "mastodon", "name": name, "base_url": self.mastodon_url, "access_token": token}
        return await self.http.post("/api/v1/channel-accounts", json=body, headers=self.headers("admin"))


@pytest.fixture
def fakes() -> Iterator[tuple[ServedApp, ServedApp]]:
    mastodon, x = mastodon_app(), x_app(client_id="x-client", client_secret="x-secret")
    mastodon.state.fake.add_account("clinic", TOKEN)
    with ServedApp(mastodon) as served_mastodon, ServedApp(x) as served_x:
        yield served_mastodon, served_x


@pytest.fixture
async def api(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database: DatabaseFactory,
    fakes: tuple[ServedApp, ServedApp],
) -> AsyncIterator[Api]:
    served_mastodon, served_x = fakes
    configure(monkeypatch, tmp_path, database("publisher"))
    networks = {
        "x": {
            "api_base_url": served_x.url,
            "auth_base_url": served_x.url,
            "client_id": "x-client",
            "client_secret": "x-secret",
        }
    }
    monkeypatch.setenv("CLEARPOST_PUBLISHER_NETWORKS", json.dumps(networks))
    monkeypatch.setenv("CLEARPOST_PUBLIC_URL", "http://test")
    async with app.router.lifespan_context(app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        app.state.audit = audit = RecordingAudit()
        app.state.credentials = Passwords()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(
                http,
                key,
                audit,
                served_mastodon.app.state.fake,
                served_mastodon.url,
                served_x.app.state.fake,
                served_x.url,
            )


async def stored_account(name: str) -> ChannelAccount:
    async with app.state.sessionmaker() as session:
        statement = select(ChannelAccount).where(ChannelAccount.name == name)
        row: ChannelAccount = (await session.execute(statement)).scalar_one()
        return row


# --- connecting with credentials ---------------------------------------------------------------


async def test_a_mastodon_account_is_checked_connected_and_listed_without_its_token(api: Api) -> None:
    response = await api.connect_mastodon()

    assert response.status_code == 201, response.text
    account = response.json()
    assert (account["name"], account["network"], account["status"]) == ("clinic-mastodon", "mastodon", "ok")
    assert account["display_name"] and account["account_ref"]
    listed = await api.http.get("/api/v1/channel-accounts", headers=api.headers("publisher"))
    assert [a["name"] for a in listed.json()["accounts"]] == ["clinic-mastodon"]
    assert TOKEN not in listed.text and TOKEN not in response.text
    stored = await stored_account("clinic-mastodon")
    assert stored.credentials is not None and TOKEN.encode() not in stored.credentials  # sealed at rest
    assert "channel_account.connected" in api.audit.actions()
    assert TOKEN not in json.dumps(api.audit.events, default=str)
    channels = (await api.http.get("/api/v1/channels", headers=api.headers("author"))).json()["channels"]
    entry = next(c for c in channels if c["name"] == "clinic-mastodon")
    assert (entry["network"], entry["max_length"], entry["usable"]) == ("mastodon", 500, True)


async def test_a_token_the_network_refuses_connects_nothing(api: Api) -> None:
    response = await api.connect_mastodon(token="not-a-token")

    assert response.status_code == 400
    assert response.json()["error"] == "account_refused"
    assert (await api.http.get("/api/v1/channel-accounts", headers=api.headers("admin"))).json() == {
        "accounts": []
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"network": "x", "name": "clinic-x"}, "use_authorize"),
        ({"network": "mastodon", "name": "Bad Name!", "access_token": TOKEN}, "invalid_account_name"),
        ({"network": "mastodon", "name": "m", "access_token": TOKEN}, "base_url"),
        ({"network": "bluesky", "name": "b", "identifier": "clinic.bsky.social"}, "credentials"),
        (
            {"network": "mastodon", "name": "m", "base_url": "http://example.org", "access_token": "t"},
            "base_url",
        ),
    ],
)
async def test_bad_account_requests_are_refused_with_their_reason(
    api: Api, body: dict[str, Any], code: str
) -> None:
    response = await api.http.post("/api/v1/channel-accounts", json=body, headers=api.headers("admin"))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == code


async def test_only_admins_connect_and_a_name_is_taken_once(api: Api) -> None:
    body = {"network": "mastodon", "name": "m", "base_url": api.mastodon_url, "access_token": TOKEN}
    refused = await api.http.post("/api/v1/channel-accounts", json=body, headers=api.headers("publisher"))
    assert refused.status_code == 403
    assert (await api.connect_mastodon("m")).status_code == 201
    again = await api.connect_mastodon("m")
    assert again.status_code == 409 and again.json()["error"] == "account_exists"


async def test_a_revoked_token_shows_on_check_and_the_account_cannot_be_used(api: Api) -> None:
    await api.connect_mastodon()
    api.mastodon.revoke(TOKEN)

    checked = await api.http.post(
        "/api/v1/channel-accounts/clinic-mastodon/check", headers=api.headers("admin")
    )

    assert checked.status_code == 200
    assert checked.json()["status"] == "revoked"
    assert checked.json()["usable"] is False
    channels = (await api.http.get("/api/v1/channels", headers=api.headers("author"))).json()["channels"]
    entry = next(c for c in channels if c["name"] == "clinic-mastodon")
    assert entry["usable"] is False and entry["status"] == "revoked"
    assert "channel_account.status_changed" in api.audit.actions()


async def test_disconnecting_wipes_the_credentials_and_keeps_the_record(api: Api) -> None:
    await api.connect_mastodon()

    response = await api.http.delete("/api/v1/channel-accounts/clinic-mastodon", headers=api.headers("admin"))

    assert response.status_code == 200 and response.json()["status"] == "disconnected"
    assert (await stored_account("clinic-mastodon")).credentials is None
    channels = (await api.http.get("/api/v1/channels", headers=api.headers("author"))).json()["channels"]
    assert "clinic-mastodon" not in [c["name"] for c in channels]
    assert (await api.connect_mastodon()).status_code == 201  # the name can be connected again


# --- the browser flow ---------------------------------------------------------------------------


async def authorize_x(api: Api, name: str = "clinic-x") -> httpx.Response:
    """Start at the publisher, let the fake approve, come back to the callback: its answer."""
    started = await api.http.get(
        "/api/v1/channel-accounts/x/authorize", params={"name": name}, headers=api.headers("admin")
    )
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as browser:
        approved = await browser.get(started.json()["authorization_url"])
    assert approved.status_code in (302, 303), approved.text
    back = urlsplit(approved.headers["location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "test", "/api/v1/channel-accounts/x/callback")
    return await api.http.get(f"{back.path}?{back.query}")


async def test_an_x_account_connects_through_the_oauth_flow_with_pkce(api: Api) -> None:
    connected = await authorize_x(api)

    assert connected.status_code == 200, connected.text
    account = connected.json()
    assert (account["name"], account["network"], account["status"]) == ("clinic-x", "x", "ok")
    assert account["account_ref"] and account["expires_at"]
    actions = api.audit.actions()
    assert actions.index("channel_account.authorization_started") < actions.index("channel_account.connected")
    stored = await stored_account("clinic-x")
    assert stored.credentials is not None
    issued = [t.access_token for t in api.x.tokens.tokens.values()]
    assert issued and not any(token.encode() in stored.credentials for token in issued)  # sealed


async def test_a_callback_state_works_once(api: Api) -> None:
    started = await api.http.get(
        "/api/v1/channel-accounts/x/authorize", params={"name": "clinic-x"}, headers=api.headers("admin")
    )
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as browser:
        approved = await browser.get(started.json()["authorization_url"])
    back = urlsplit(approved.headers["location"])
    assert (await api.http.get(f"{back.path}?{back.query}")).status_code == 200

    replayed = await api.http.get(f"{back.path}?{back.query}")

    assert replayed.status_code == 409 and replayed.json()["error"] == "invalid_state"
    forged = await api.http.get(
        "/api/v1/channel-accounts/x/callback", params={"state": "x" * 43, "code": "c"}
    )
    assert forged.status_code == 409 and forged.json()["error"] == "invalid_state"


async def test_a_network_without_a_registered_app_says_which_setting_is_missing(api: Api) -> None:
    response = await api.http.get(
        "/api/v1/channel-accounts/linkedin/authorize", params={"name": "li"}, headers=api.headers("admin")
    )

    assert response.status_code == 400
    assert response.json()["error"] == "oauth_not_configured"
    assert "CLEARPOST_PUBLISHER_NETWORKS" in response.json()["detail"]


# --- pause and resume ---------------------------------------------------------------------------


async def test_pause_and_resume_are_signed_audited_and_shown(api: Api) -> None:
    body = {"reason": "Crisis: hold everything", "password": PASSWORD}
    assert (
        await api.http.post("/api/v1/publishing/pause", json=body, headers=api.headers("author"))
    ).status_code == 403
    wrong = await api.http.post(
        "/api/v1/publishing/pause", json={**body, "password": "nope"}, headers=api.headers("compliance")
    )
    assert wrong.status_code == 403 and wrong.json()["error"] == "signature_failed"

    paused = await api.http.post("/api/v1/publishing/pause", json=body, headers=api.headers("compliance"))

    assert paused.status_code == 201, paused.text
    state = (await api.http.get("/api/v1/publishing", headers=api.headers("legal"))).json()
    assert state["paused_all"] is True and state["pauses"][0]["reason"] == "Crisis: hold everything"
    again = await api.http.post("/api/v1/publishing/pause", json=body, headers=api.headers("compliance"))
    assert again.status_code == 409
    resumed = await api.http.post(
        "/api/v1/publishing/resume",
        json={"reason": "All clear", "password": PASSWORD},
        headers=api.headers("admin"),
    )
    assert resumed.status_code == 200 and resumed.json()["scope"] == "all"
    assert (await api.http.get("/api/v1/publishing", headers=api.headers("legal"))).json()[
        "paused_all"
    ] is False
    assert [a for a in api.audit.actions() if a.startswith("publishing.")] == [
        "publishing.paused",
        "publishing.resumed",
    ]


async def test_a_paused_post_is_held_and_posts_nothing_until_the_resume(api: Api) -> None:
    await api.connect_mastodon()
    content = draft_version("d-1", 1, channels=("clinic-mastodon",))
    activities = PublisherActivities(
        app.state.sessionmaker, FakeDrafts(content), app.state.directory, approvals=approval_gate(api.audit)
    )
    request = signed_request("d-1", 1, content.content_hash, ["clinic-mastodon"])
    body = {"reason": "Hold for the recall statement", "password": PASSWORD, "account": "clinic-mastodon"}
    assert (
        await api.http.post("/api/v1/publishing/pause", json=body, headers=api.headers("compliance"))
    ).status_code == 201

    with pytest.raises(ApplicationError) as held:
        await activities.publish_post(request)

    assert held.value.type == "PublishingPaused" and "clinic-mastodon is paused" in held.value.message
    assert api.mastodon.live_statuses() == []
    state = (await api.http.get("/api/v1/publishing", headers=api.headers("legal"))).json()
    assert state["held"] == ["d-1"] and state["paused_all"] is False
    resumed = await api.http.post(
        "/api/v1/publishing/resume",
        json={"reason": "Statement out", "password": PASSWORD, "account": "clinic-mastodon"},
        headers=api.headers("compliance"),
    )
    assert resumed.json()["woken"] == ["d-1"]

    result = await activities.publish_post(request)

    assert [p.status for p in result.publications] == ["published"]
    assert [s.text for s in api.mastodon.live_statuses()] == [content.body]


# --- takedown -----------------------------------------------------------------------------------


async def test_a_takedown_deletes_the_post_through_the_adapter_and_keeps_the_evidence(api: Api) -> None:
    await api.connect_mastodon()
    content = draft_version("d-9", 1, channels=("clinic-mastodon", "sandbox"))
    drafts = FakeDrafts(content)
    activities = PublisherActivities(
        app.state.sessionmaker, drafts, app.state.directory, approvals=approval_gate(api.audit)
    )
    await activities.publish_post(
        signed_request("d-9", 1, content.content_hash, ["clinic-mastodon", "sandbox"])
    )
    assert len(api.mastodon.live_statuses()) == 1
    async with app.state.sessionmaker() as session, session.begin():
        request_id = await TakedownService(session, audit=api.audit).request(
            "d-9", "Wrong dosage in the text", "u-compliance", cause="takedown"
        )
    live = LivePostActivities(app.state.sessionmaker, app.state.directory, drafts, api.audit)

    result = await live.take_down_post(TakedownInput("d-9", "takedown", request_id=request_id))

    assert result.status == "taken_down" and sorted(result.removed) == ["clinic-mastodon", "sandbox"]
    assert api.mastodon.live_statuses() == []
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(select(Publication).order_by(Publication.channel))).scalars().all()
        record = await session.get(LivePost, "d-9")
    assert [r.status for r in rows] == ["removed", "removed"]
    mastodon_row = rows[0]
    assert (
        mastodon_row.url
        and mastodon_row.removal
        and mastodon_row.removal["external_id"] == mastodon_row.external_id
    )
    assert record is not None and record.status == "taken_down"
    assert drafts.live_states == [
        {"draft_id": "d-9", "status": "taken_down", "reason": "Wrong dosage in the text", "cause": "takedown"}
    ]
    removed = [e for e in api.audit.events if e["action"] == "post.removed_from_channel"]
    assert sorted(e["details"]["channel"] for e in removed) == ["clinic-mastodon", "sandbox"]

    again = await live.take_down_post(TakedownInput("d-9", "takedown", request_id=request_id))  # a retry

    assert again.status == "taken_down" and len(removed) == 2


async def test_the_takedown_route_needs_the_role_a_reason_and_the_password(api: Api) -> None:
    body = {"reason": "Wrong dosage", "password": PASSWORD}
    assert (
        await api.http.post("/api/v1/drafts/d-1/takedown", json=body, headers=api.headers("author"))
    ).status_code == 403
    wrong = await api.http.post(
        "/api/v1/drafts/d-1/takedown", json={**body, "password": "x"}, headers=api.headers("publisher")
    )
    assert wrong.status_code == 403 and wrong.json()["error"] == "signature_failed"
    short = await api.http.post(
        "/api/v1/drafts/d-1/takedown", json={**body, "reason": ""}, headers=api.headers("publisher")
    )
    assert short.status_code == 422
    missing = await api.http.post("/api/v1/drafts/d-1/takedown", json=body, headers=api.headers("publisher"))
    assert missing.status_code == 404 and missing.json()["error"] == "not_published"


async def test_renditions_are_measured_as_each_network_counts_and_never_cut(api: Api) -> None:
    await api.connect_mastodon()
    link = "https://clinic.example.org/" + "a" * 200  # Mastodon counts every link as 23
    fits = f"{'x' * 470} {link}"
    too_long = "y" * 501

    answer = await api.http.post(
        "/api/v1/renditions",
        json={"body": fits, "channels": ["clinic-mastodon", "sandbox"]},
        headers=api.headers("author"),
    )
    refused = await api.http.post(
        "/api/v1/renditions",
        json={"body": too_long, "channels": ["clinic-mastodon"]},
        headers=api.headers("author"),
    )

    assert answer.status_code == 200, answer.text
    mastodon, sandbox = answer.json()["renditions"]
    assert (mastodon["network"], mastodon["length"], mastodon["fits"], mastodon["text"]) == (
        "mastodon",
        494,
        True,
        fits,
    )
    assert sandbox["length"] == len(fits)
    [rendition] = refused.json()["renditions"]
    assert rendition["fits"] is False and rendition["problems"] == ["501 characters of 500 allowed"]
    assert rendition["text"] == too_long  # shown as written, not truncated
    unknown = await api.http.post(
        "/api/v1/renditions", json={"body": "hi", "channels": ["nowhere"]}, headers=api.headers("author")
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_channel"


async def test_at_the_end_of_its_lifetime_a_post_is_pulled_and_sent_back_to_review(api: Api) -> None:
    content = draft_version("d-7", 1, channels=("sandbox",))
    drafts = FakeDrafts(content)
    activities = PublisherActivities(
        app.state.sessionmaker, drafts, app.state.directory, approvals=approval_gate(api.audit)
    )
    request = signed_request(
        "d-7", 1, content.content_hash, ["sandbox"], lifetime_days=365, on_expiry="re_review"
    )
    await activities.publish_post(request)
    live = LivePostActivities(app.state.sessionmaker, app.state.directory, drafts, api.audit)
    plan = await live.live_post_plan(LivePostInput("d-7"))
    assert plan.status == "live" and plan.on_expiry == "re_review" and plan.expires_at is not None
    listed = await api.http.get(
        "/api/v1/live-posts", params={"expiring_within_days": 366}, headers=api.headers("compliance")
    )
    assert [p["draft_id"] for p in listed.json()["live_posts"]] == ["d-7"]

    result = await live.take_down_post(TakedownInput("d-7", "expired"))

    assert result.status == "taken_down" and result.removed == ["sandbox"]
    assert drafts.live_states[-1]["status"] == "re_review"
    actions = api.audit.actions()
    assert (
        actions.index("post.lifetime_set") < actions.index("post.expired") < actions.index("post.taken_down")
    )


async def test_a_post_removed_by_hand_finishes_a_takedown_the_network_could_not(api: Api) -> None:
    content = draft_version("d-8", 1, channels=("sandbox",))
    drafts = FakeDrafts(content)
    app.state.drafts = drafts
    activities = PublisherActivities(
        app.state.sessionmaker, drafts, app.state.directory, approvals=approval_gate(api.audit)
    )
    [ref] = (
        await activities.publish_post(signed_request("d-8", 1, content.content_hash, ["sandbox"]))
    ).publications
    async with app.state.sessionmaker() as session, session.begin():
        takedowns = TakedownService(session, audit=api.audit)
        request_id = await takedowns.request("d-8", "Recall", "u-compliance", cause="takedown")
        await takedowns.abandon("d-8", request_id, "instagram: Graph cannot delete published media")
    body = {"reason": "Deleted in the Instagram app at 10:02", "password": PASSWORD}
    path = f"/api/v1/publications/{ref.publication_id}/removed-by-hand"
    wrong = await api.http.post(path, json={**body, "password": "x"}, headers=api.headers("publisher"))
    assert wrong.status_code == 403

    done = await api.http.post(path, json=body, headers=api.headers("publisher"))

    assert done.status_code == 200, done.text
    assert done.json() == {"publication_id": ref.publication_id, "takedown_done": True}
    async with app.state.sessionmaker() as session:
        row = await session.get(Publication, ref.publication_id)
        record = await session.get(LivePost, "d-8")
    assert row is not None and row.status == "removed" and row.removal and row.removal["by_hand"] is True
    assert record is not None and record.status == "taken_down"
    assert drafts.live_states[-1]["status"] == "taken_down"
    assert api.audit.actions()[-2:] == ["post.removed_by_hand", "post.taken_down"]
    again = await api.http.post(path, json=body, headers=api.headers("publisher"))
    assert again.status_code == 409
