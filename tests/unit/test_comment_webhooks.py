"""Meta's webhook push for Page comments through the publisher's API: the subscription check with
the verify token, the `X-Hub-Signature-256` HMAC checked over the raw body (missing: 400, wrong:
403, nothing woken), and a signed push waking the named Page's listener."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.publisher.main import app
from services.publisher.models import ChannelAccount
from tests.database import DatabaseFactory
from tests.unit.publisher_fixtures import configure

APP_SECRET = "meta-app-secret"
VERIFY_TOKEN = "verify-me-please"
PUSH = {
    "object": "page",
    "entry": [
        {
            "id": "1001",
            "time": 1764669600,
            "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add", "post_id": "1001_5"}}],
        },
        {"id": "9999", "changes": [{"field": "feed", "value": {"item": "like", "verb": "add"}}]},
    ],
}


class Listeners:
    def __init__(self) -> None:
        self.woken: list[str] = []

    async def poll_now(self, account: str) -> bool:
        self.woken.append(account)
        return True


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Listeners]]:
    configure(monkeypatch, tmp_path, database("publisher"))
    networks = {"facebook": {"client_id": "meta-app", "client_secret": APP_SECRET}}
    monkeypatch.setenv("CLEARPOST_PUBLISHER_NETWORKS", json.dumps(networks))
    monkeypatch.setenv("CLEARPOST_PUBLISHER_META_WEBHOOK_VERIFY_TOKEN", VERIFY_TOKEN)
    async with app.router.lifespan_context(app):
        app.state.comment_workflows = listeners = Listeners()
        async with app.state.sessionmaker() as session, session.begin():
            for name, ref in (("riverside-fb", "1001"), ("other-fb", "2002")):
                session.add(
                    ChannelAccount(
                        id=f"acc-{name}", name=name, network="facebook", base_url="https://graph.facebook.com",
                        status="ok", status_reason="", account_ref=ref, scopes=[], facts={}, credentials=None,
                        connected_by="u-admin", connected_at=datetime.now(UTC),
                    )
                )  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, listeners


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def test_the_subscription_check_needs_the_verify_token(
    api: tuple[httpx.AsyncClient, Listeners],
) -> None:
    http, _ = api
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ok = await http.get("/api/v1/comments/webhooks/meta", params={**query, "hub.verify_token": VERIFY_TOKEN})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    wrong = await http.get("/api/v1/comments/webhooks/meta", params={**query, "hub.verify_token": "guess"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "verify_token_mismatch"


async def test_a_signed_push_wakes_the_pages_listener(api: tuple[httpx.AsyncClient, Listeners]) -> None:
    http, listeners = api
    body = json.dumps(PUSH).encode()
    answer = await http.post("/api/v1/comments/webhooks/meta", content=body, headers=signed(body))
    assert answer.status_code == 200 and answer.json() == {"accounts": ["riverside-fb"]}
    assert listeners.woken == ["riverside-fb"]


async def test_an_unsigned_or_forged_push_wakes_nothing(api: tuple[httpx.AsyncClient, Listeners]) -> None:
    http, listeners = api
    body = json.dumps(PUSH).encode()
    missing = await http.post("/api/v1/comments/webhooks/meta", content=body)
    assert missing.status_code == 400 and missing.json()["error"] == "signature_missing"
    forged = await http.post(
        "/api/v1/comments/webhooks/meta", content=body, headers=signed(body, "not-the-secret")
    )
    assert forged.status_code == 403 and forged.json()["error"] == "signature_mismatch"
    tampered = body.replace(b"1001", b"2002")
    changed = await http.post("/api/v1/comments/webhooks/meta", content=tampered, headers=signed(body))
    assert changed.status_code == 403
    assert listeners.woken == []
