"""The audit HTTP API: internal appends with the service credential, role-gated reads and verify."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.audit.entries import event_hash
from services.audit.main import app
from services.kit.auth import INTERNAL_HEADER, InternalCallers, StaticKeySet, load_internal_token
from services.kit.settings import KitSettings
from services.kit.tokens import Principal, SigningKey, issue_access_token, load_or_create_signing_key
from tests.database import DatabaseFactory

INTERNAL_TOKEN = "test-internal-token"
DRAFT = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


@dataclass
class AuditApi:
    client: httpx.AsyncClient
    key: SigningKey

    def bearer(self, *roles: str, user_id: str = "u-1") -> dict[str, str]:
        principal = Principal(user_id=user_id, username=user_id, name=user_id, roles=frozenset(roles))
        token = issue_access_token(
            self.key, issuer="clearpost-gateway", audience="clearpost", principal=principal, ttl_seconds=300
        )
        return {"Authorization": f"Bearer {token}"}

    async def append(self, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "idempotency_key": "drafts:1",
            "actor": "user:author-1",
            "action": "draft.created",
            "subject": f"draft:{DRAFT}",
            "details": {"version": 1, "service": "drafts"},
        }
        body.update(overrides)
        return await self.client.post(
            "/internal/v1/events", json=body, headers={INTERNAL_HEADER: INTERNAL_TOKEN}
        )


@pytest.fixture
async def api(
    tmp_path: Path, database: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AuditApi]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    for name, value in database("audit").settings_env().items():
        monkeypatch.setenv(name, value)
    async with app.router.lifespan_context(app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield AuditApi(client=client, key=key)


@pytest.mark.parametrize("headers", [{}, {INTERNAL_HEADER: "wrong"}], ids=["missing", "wrong"])
async def test_internal_append_needs_the_service_credential(api: AuditApi, headers: dict[str, str]) -> None:
    response = await api.client.post(
        "/internal/v1/events",
        json={"idempotency_key": "k", "actor": "a", "action": "b", "subject": "c", "details": {}},
        headers=headers,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    listed = await api.client.get("/api/v1/audit/events", headers=api.bearer("auditor"))
    assert listed.json() == {"events": []}


async def test_the_service_an_event_names_is_the_one_whose_credential_called(
    api: AuditApi, tmp_path: Path
) -> None:
    """Attack: a compromised drafts service appends events as the gateway or the review service."""
    drafts_token, review_token = "drafts-own-token", "review-own-token"
    configured = KitSettings(
        var_dir=tmp_path,
        internal_token=INTERNAL_TOKEN,
        internal_callers={"drafts": hashlib.sha256(drafts_token.encode()).hexdigest()},
    )
    app.state.internal_callers = InternalCallers(configured, "audit", INTERNAL_TOKEN)
    body = {
        "idempotency_key": "k-1",
        "actor": "user:u-1",
        "action": "auth.login",
        "subject": "user:u-1",
        "service": "gateway",
        "details": {"service": "gateway"},
    }

    created = await api.client.post("/internal/v1/events", json=body, headers={INTERNAL_HEADER: drafts_token})
    unknown = await api.client.post(
        "/internal/v1/events",
        json={**body, "idempotency_key": "k-2"},
        headers={INTERNAL_HEADER: review_token},
    )

    assert created.status_code == 201, created.text
    assert unknown.status_code == 401  # a service this one was not told about
    [event] = (await api.client.get("/api/v1/audit/events", headers=api.bearer("auditor"))).json()["events"]
    assert (event["service"], event["details"]["service"]) == ("drafts", "drafts")


def test_services_on_one_machine_find_each_others_credentials(tmp_path: Path) -> None:
    """Without configured callers (`make run`), each service publishes its token's digest; one that
    starts later is found on its first call."""
    settings = KitSettings(var_dir=tmp_path)
    audit_token = load_internal_token(settings, "audit")
    callers = InternalCallers(settings, "audit", audit_token)
    assert callers.identify(audit_token) == "audit"
    assert callers.identify("a-guess") is None

    callers.RESCAN_SECONDS = 0.0
    drafts_token = load_internal_token(settings, "drafts")  # the drafts service starts afterwards

    assert drafts_token != audit_token and callers.identify(drafts_token) == "drafts"
    assert (settings.keys_dir / "drafts" / "internal-token").read_text().strip() == drafts_token
    published = (settings.keys_dir / "internal-callers" / "drafts.sha256").read_text()
    assert drafts_token not in published  # only the digest is shared


async def test_append_creates_then_replays_then_conflicts(api: AuditApi) -> None:
    created = await api.append()
    replayed = await api.append()
    conflicting = await api.append(details={"version": 2, "service": "drafts"})

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"seq", "hash", "at"} and body["seq"] == 1
    assert replayed.status_code == 200 and replayed.json() == body
    assert conflicting.status_code == 409
    assert conflicting.json()["error"] == "conflict"


async def test_append_validates_the_body(api: AuditApi) -> None:
    response = await api.append(actor="", unexpected=True)

    assert response.status_code == 422
    assert response.json()["error"] == "invalid"


@pytest.mark.parametrize("path", ["/api/v1/audit/events", "/api/v1/audit/verify"])
async def test_reading_needs_auditor_or_admin(api: AuditApi, path: str) -> None:
    await api.append()

    anonymous = await api.client.get(path)
    author = await api.client.get(path, headers=api.bearer("author", "reviewer"))
    auditor = await api.client.get(path, headers=api.bearer("auditor"))
    admin = await api.client.get(path, headers=api.bearer("admin"))

    assert anonymous.status_code == 401
    assert author.status_code == 403 and author.json()["error"] == "forbidden"
    assert (auditor.status_code, admin.status_code) == (200, 200)


async def test_events_are_listed_in_seq_order_and_recomputable(api: AuditApi) -> None:
    appended = [
        (await api.append(idempotency_key=f"k{n}", actor=f"user:{n % 2}", details={"n": n})).json()
        for n in range(1, 5)
    ]

    response = await api.client.get("/api/v1/audit/events", headers=api.bearer("auditor"))

    events = response.json()["events"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [(e["seq"], e["hash"], e["at"]) for e in events] == [
        (a["seq"], a["hash"], a["at"]) for a in appended
    ]
    previous = "0" * 64
    for e in events:
        assert e["draft_id"] == DRAFT and e["prev_hash"] == previous
        assert event_hash(**{k: v for k, v in e.items() if k not in ("hash", "draft_id")}) == e["hash"]
        previous = e["hash"]


async def test_events_can_be_filtered_and_paged(api: AuditApi) -> None:
    await api.append(idempotency_key="k1", actor="user:a", action="draft.created")
    await api.append(idempotency_key="k2", actor="user:b", action="review.decided")
    await api.append(idempotency_key="k3", actor="user:a", action="user.created", subject="user:42")
    await api.append(idempotency_key="k4", actor="user:a", action="review.decided", subject="draft:other")
    auditor = api.bearer("auditor")

    async def seqs(**params: Any) -> list[int]:
        response = await api.client.get("/api/v1/audit/events", params=params, headers=auditor)
        assert response.status_code == 200, response.text
        return [e["seq"] for e in response.json()["events"]]

    assert await seqs(draft_id=DRAFT) == [1, 2]
    assert await seqs(draft_id="other") == [4]
    assert await seqs(action="review.decided") == [2, 4]
    assert await seqs(actor="user:a") == [1, 3, 4]
    assert await seqs(actor="user:a", action="review.decided") == [4]
    assert await seqs(after_seq=1, limit=2) == [2, 3]
    assert await seqs(after_seq=4, action="review.decided") == []  # each listing itself appends audit.queried


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 5001}, {"after_seq": -1}])
async def test_list_limits_are_enforced(api: AuditApi, params: dict[str, int]) -> None:
    response = await api.client.get("/api/v1/audit/events", params=params, headers=api.bearer("admin"))

    assert response.status_code == 422


async def test_verify_reports_the_first_tampered_event(api: AuditApi) -> None:
    for n in range(1, 4):
        await api.append(idempotency_key=f"k{n}")
    auditor = api.bearer("auditor")

    clean = await api.client.get("/api/v1/audit/verify", headers=auditor)
    async with app.state.sessionmaker() as session:
        await session.execute(text("UPDATE audit_events SET details = '{\"version\": 9}' WHERE seq = 2"))
        await session.commit()
    tampered = await api.client.get("/api/v1/audit/verify", headers=auditor)

    assert clean.json() == {"ok": True, "events": 3, "first_bad_seq": None, "reason": None}
    assert tampered.json() == {"ok": False, "events": 1, "first_bad_seq": 2, "reason": "hash mismatch"}
