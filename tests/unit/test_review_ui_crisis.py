"""The review UI's Crisis page (/review/crisis): start an emergency post, co-sign it with the
password, the time left shown, refusals shown on the page with nothing signed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from services.kit.auth import StaticKeySet
from services.kit.canonical import content_hash
from services.kit.tokens import Principal, load_or_create_signing_key
from services.review.crisis_models import CrisisApproval
from services.review.main import app as review_app
from services.review.ui.deps import UiState
from services.review.ui.security import FailureLimiter
from services.review.ui.upstream import IssuedTokens, SignInRefused
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import FakeChannelStates
from tests.unit.review_ui_fixtures import (
    LEGAL,
    PASSWORD,
    SAME_ORIGIN,
    FakeHistory,
    FakeIdentity,
    FakeUserApi,
    Ui,
)
from workflows.crisis_contracts import CrisisApproved

CRIS = Principal("u-cris", "crisis@t", "Cris Crisis", frozenset({"crisis"}))
KAI = Principal("u-kai", "crisis2@t", "Kai Crisis", frozenset({"crisis"}))
TITLE, BODY = "Boil-water notice", "Boil tap water before drinking until further notice."
HASH = content_hash(title=TITLE, body=BODY, channels=["sandbox"], media_digests=[])


class CrisisIdentity(FakeIdentity):
    async def sign_in(self, username: str, password: str) -> IssuedTokens:
        users = {p.username: p for p in (CRIS, KAI, LEGAL)}
        if username not in users or password != PASSWORD:
            raise SignInRefused("invalid username or password")
        return self._tokens(users[username])


class Passwords:
    async def confirms(self, username: str, password: str) -> bool:
        return password == PASSWORD

    def on_behalf_of(self, address: str | None) -> Passwords:
        return self


class Drafts:
    async def get_version(self, draft_id: str, version: int) -> dict[str, Any]:
        return {
            "draft_id": draft_id, "version": version, "title": TITLE, "body": BODY, "channels": ["sandbox"],
            "media_digests": [], "content_hash": HASH, "author_id": "u-author", "patient_content": False,
        }  # fmt: skip

    async def author_of(self, draft_id: str, version: int) -> str:
        return "u-author"


@dataclass
class Handle:
    temporal: CrisisTemporal

    async def execute_update(self, name: str, request: Any, result_type: Any = None) -> CrisisApproved:
        self.temporal.updates.append(request)
        return CrisisApproved(len(self.temporal.updates), 2, "awaiting_approvals")

    async def query(self, name: str, result_type: Any = None) -> Any:
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")


@dataclass
class CrisisTemporal:
    started: list[Any] = field(default_factory=list)
    updates: list[Any] = field(default_factory=list)

    async def start_workflow(self, name: str, arg: Any, **options: Any) -> None:
        self.started.append(arg)

    def get_workflow_handle(self, workflow_id: str) -> Handle:
        return Handle(self)


@pytest.fixture
async def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory) -> AsyncIterator[Ui]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "t")
    for name, value in database("review").settings_env().items():
        monkeypatch.setenv(name, value)
    async with review_app.router.lifespan_context(review_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        identity, user_api, audit, history = (
            CrisisIdentity(key),
            FakeUserApi(),
            RecordingAudit(),
            FakeHistory(),
        )
        review_app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        review_app.state.audit = audit
        review_app.state.credentials = Passwords()
        review_app.state.temporal = CrisisTemporal()
        review_app.state.drafts = Drafts()
        review_app.state.channel_states = FakeChannelStates()
        review_app.state.ui = UiState(
            identity=identity,  # type: ignore[arg-type]
            user_api=user_api,  # type: ignore[arg-type]
            history=history,
            limiter=FailureLimiter(per_account=3, per_address=10, window_seconds=900),
            idle_timeout=timedelta(minutes=15),
            claim_idle=timedelta(minutes=30),
        )
        transport = httpx.ASGITransport(app=review_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Ui(review_app, http, identity, user_api, audit, review_app.state.temporal, history)


async def start(ui: Ui, **form: str) -> httpx.Response:
    token = await ui.csrf("/review/crisis")
    data = {"draft_id": "d-1", "version": "1", "reason": "water main break", "password": PASSWORD, **form}
    return await ui.http.post("/review/crisis/start", data={**data, "csrf_token": token}, headers=SAME_ORIGIN)


async def test_a_crisis_holder_starts_a_post_and_another_co_signs_it_on_the_page(ui: Ui) -> None:
    await ui.sign_in(CRIS)
    page = await ui.http.get("/review/crisis")
    assert (
        page.status_code == 200
        and 'href="/review/crisis"' in page.text
        and "Start an emergency post" in page.text
    )

    wrong = await start(ui, password="nope", reason="typed reason kept")
    assert (
        wrong.status_code == 403
        and "password did not match" in wrong.text
        and "typed reason kept" in wrong.text
    )
    started = await start(ui)
    assert started.status_code == 303 and started.headers["location"].endswith("notice=started")
    listed = await ui.http.get("/review/crisis")
    assert (
        "awaiting approvals" in listed.text
        and "Time left to co-sign" in listed.text
        and "30 min" in listed.text
    )
    assert '/approve"' not in listed.text, "the starter is not offered the co-signing form"

    await ui.sign_in(KAI)
    page = await ui.http.get("/review/crisis")
    action = re.search(r'action="(/review/crisis/[^/]+/approve)"', page.text)
    assert action is not None and HASH in page.text
    token = await ui.csrf("/review/crisis")
    stale = await ui.http.post(
        action.group(1),
        data={"content_hash": "e" * 64, "password": PASSWORD, "csrf_token": token},
        headers=SAME_ORIGIN,
    )
    assert stale.status_code == 409 and "Nothing was signed" in stale.text
    assert await ui.rows(CrisisApproval) == []
    signed = await ui.http.post(
        action.group(1),
        data={"content_hash": HASH, "password": PASSWORD, "csrf_token": token},
        headers=SAME_ORIGIN,
    )
    assert signed.status_code == 303
    assert [a.signer_id for a in await ui.rows(CrisisApproval)] == ["u-kai"]
    assert "Kai Crisis" in (await ui.http.get("/review/crisis")).text
    assert ui.audit.actions() == ["crisis.started", "crisis.approved"]
    report = await ui.http.get("/review/crisis/report.csv")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert report.text.splitlines()[0].startswith("crisis_id,") and "water main break" in report.text


async def test_a_reviewer_sees_the_page_but_may_not_start(ui: Ui) -> None:
    await ui.sign_in(LEGAL)
    page = await ui.http.get("/review/crisis")
    assert page.status_code == 200 and "Start an emergency post" not in page.text
    refused = await start(ui)
    assert refused.status_code == 403 and "only holders of the crisis role" in refused.text
