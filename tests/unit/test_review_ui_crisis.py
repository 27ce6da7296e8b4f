"""The review UI's Crisis page (/review/crisis): start an emergency post, co-sign it with the
password, the time left shown, refusals shown on the page with nothing signed; publish from a
pre-approved template (typed values, reason, password) through CrisisTemplateService.use, refusals
shown with what was typed and nothing signed; the new-draft page's crisis-template purpose."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from services.kit.auth import StaticKeySet
from services.kit.canonical import content_hash
from services.kit.tokens import Principal, load_or_create_signing_key
from services.review.crisis_models import CrisisApproval
from services.review.crisis_template_models import ACTIVE, CrisisTemplate, CrisisTemplateUse
from services.review.main import app as review_app
from services.review.ui.deps import UiState
from services.review.ui.security import FailureLimiter
from services.review.ui.upstream import IssuedTokens, SignInRefused
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import FakeChannelStates
from tests.unit.review_ui_fixtures import (
    AUTHOR,
    LEGAL,
    PASSWORD,
    SAME_ORIGIN,
    FakeHistory,
    FakeIdentity,
    FakeUserApi,
    Ui,
)
from workflows.crisis_contracts import CrisisApproved
from workflows.crisis_template_contracts import TemplatePostInput
from workflows.crisis_templates import (
    FROM_TEMPLATE_PURPOSE,
    TEMPLATE_APPROVAL_TYPE,
    TemplateApproval,
    approval_claims,
    fill,
    variables_of,
)

CRIS = Principal("u-cris", "crisis@t", "Cris Crisis", frozenset({"crisis"}))
KAI = Principal("u-kai", "crisis2@t", "Kai Crisis", frozenset({"crisis"}))
TITLE, BODY = "Boil-water notice", "Boil tap water before drinking until further notice."
HASH = content_hash(title=TITLE, body=BODY, channels=["sandbox"], media_digests=[])
TEMPLATE_TITLE = "Boil-water notice for {place}"
TEMPLATE_BODY = (
    "Boil tap water at {place} from {time} on {date} until further notice. Questions: call {phone}."
)
TEMPLATE_HASH = content_hash(title=TEMPLATE_TITLE, body=TEMPLATE_BODY, channels=["sandbox"], media_digests=[])
VALUES = {"time": "14:30", "date": "2026-12-04", "place": "North Clinic", "phone": "+1 555 010 2000"}


class CrisisIdentity(FakeIdentity):
    async def sign_in(self, username: str, password: str) -> IssuedTokens:
        users = {p.username: p for p in (CRIS, KAI, LEGAL, AUTHOR)}
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

    async def fill_template(self, request: dict[str, Any]) -> dict[str, Any]:
        """The drafts service's side: the template's text filled and stored as the holder's draft."""
        values = request["values"]
        title, body = fill(TEMPLATE_TITLE, values), fill(TEMPLATE_BODY, values)
        return {
            "draft_id": request["draft_id"], "version": 1, "title": title, "body": body,
            "channels": ["sandbox"], "media_digests": [], "purpose": FROM_TEMPLATE_PURPOSE,
            "content_hash": content_hash(title=title, body=body, channels=["sandbox"], media_digests=[]),
        }  # fmt: skip


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


# --- pre-approved templates ------------------------------------------------------------------------


async def approved_template(ui: Ui) -> CrisisTemplate:
    """A template version as record_template_approval leaves it once its full review approved it:
    the row and its approval signed with the review service's key, the policy's places and phones."""
    crisis = ui.app.state.policy.policy.crisis.templates
    approved_at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    approval = TemplateApproval(
        template_id="d-template", version=1, content_hash=TEMPLATE_HASH, title=TEMPLATE_TITLE,
        body=TEMPLATE_BODY, channels=("sandbox",), variables=variables_of(TEMPLATE_TITLE, TEMPLATE_BODY),
        places=tuple(crisis.places), phones=tuple(crisis.phones), author_id="u-author",
        policy_version="test", approvers=("u-comp", "u-legal"), approved_at=approved_at.isoformat(),
    )  # fmt: skip
    row = CrisisTemplate(
        id=str(uuid.uuid4()), template_id=approval.template_id, version=1, content_hash=TEMPLATE_HASH,
        title=TEMPLATE_TITLE, channels=["sandbox"], variables=list(approval.variables),
        places=list(approval.places), phones=list(approval.phones), author_id="u-author",
        approvers=list(approval.approvers), approved_at=approved_at,
        approval_record=ui.app.state.signer.record(approval_claims(approval), typ=TEMPLATE_APPROVAL_TYPE),
        status=ACTIVE,
    )  # fmt: skip
    async with ui.app.state.sessionmaker() as session, session.begin():
        session.add(row)
    return row


async def use_template(ui: Ui, template: CrisisTemplate, **form: str) -> httpx.Response:
    token = await ui.csrf("/review/crisis")
    data = {**VALUES, "reason": "water main break", "password": PASSWORD, **form}
    return await ui.http.post(
        f"/review/crisis/templates/{template.id}/use", data={**data, "csrf_token": token}, headers=SAME_ORIGIN
    )


async def test_a_crisis_holder_publishes_from_a_template_on_the_page(ui: Ui) -> None:
    template = await approved_template(ui)
    await ui.sign_in(CRIS)
    page = await ui.http.get("/review/crisis")
    assert page.status_code == 200 and "Templates" in page.text
    form = page.text[page.text.index(f'action="/review/crisis/templates/{template.id}/use"') :]
    # The text with its variables visible, what approved it, one typed input per variable.
    assert '<code class="variable">{place}</code> from <code class="variable">{time}</code>' in page.text
    assert "u-comp, u-legal" in page.text and "2026-12-03 09:00 UTC" in page.text
    assert 'name="time" type="time"' in form and 'name="date" type="date"' in form
    assert re.search(r'<select id="[^"]+-place" name="place" required>', form)
    assert '<option value="Riverside Urgent Care">' in form and '<option value="+1 555 010 2911">' in form

    wrong = await use_template(ui, template, password="nope-typed-secret", reason="typed reason kept")
    assert wrong.status_code == 403 and "Nothing was published" in wrong.text
    assert "password did not match" in wrong.text and "typed reason kept" in wrong.text
    assert '<option value="North Clinic" selected>' in wrong.text and 'value="14:30"' in wrong.text
    assert "nope-typed-secret" not in wrong.text
    outside = await use_template(ui, template, place="Somewhere Else")
    assert outside.status_code == 422 and "not one of the template&#39;s approved places" in outside.text
    no_reason = await use_template(ui, template, reason=" ")
    assert no_reason.status_code == 422 and "a reason is required" in no_reason.text
    assert await ui.rows(CrisisTemplateUse) == [] and ui.app.state.temporal.started == []

    used = await use_template(ui, template)
    assert used.status_code == 303 and "notice=used" in used.headers["location"]
    [row] = await ui.rows(CrisisTemplateUse)
    assert row.values == VALUES and row.user_id == "u-cris" and row.status == "publishing"
    [started] = ui.app.state.temporal.started
    assert isinstance(started, TemplatePostInput) and started.use_id == row.id
    shown = await ui.http.get(used.headers["location"])
    notice = shown.text[shown.text.index('id="template-used"') :]
    assert f'data-use-id="{row.id}"' in shown.text
    assert "Boil tap water at North Clinic from 14:30 on 2026-12-04" in notice
    assert "call +1 555 010 2000." in notice and "Being published" in notice
    posts = shown.text[shown.text.index("Posts from this template") :]
    assert f'data-use-id="{row.id}" data-status="publishing"' in posts and "Cris Crisis" in posts
    assert ui.audit.actions() == ["template.used"]


async def test_wrong_passwords_on_the_template_form_count_against_the_signing_limit(ui: Ui) -> None:
    template = await approved_template(ui)
    await ui.sign_in(CRIS)
    for _ in range(3):
        assert (await use_template(ui, template, password="nope")).status_code == 403
    locked = await use_template(ui, template)
    assert locked.status_code == 429 and "too many wrong passwords" in locked.text
    assert await ui.rows(CrisisTemplateUse) == [] and ui.app.state.temporal.started == []


async def test_a_reviewer_sees_the_templates_but_may_not_publish_from_one(ui: Ui) -> None:
    template = await approved_template(ui)
    await ui.sign_in(LEGAL)
    page = await ui.http.get("/review/crisis")
    assert page.status_code == 200 and 'data-template-id="d-template"' in page.text
    assert "/use" not in page.text, "only crisis holders get the form"
    refused = await use_template(ui, template)
    assert refused.status_code == 403 and "only holders of the crisis role" in refused.text
    assert 'role="alert"' in refused.text
    assert await ui.rows(CrisisTemplateUse) == [] and ui.audit.actions() == []


async def test_an_author_creates_a_crisis_template_on_the_new_draft_page(ui: Ui) -> None:
    await ui.sign_in(AUTHOR)
    form = await ui.http.get("/review/drafts/new")
    assert 'name="purpose" value="crisis_template"' in form.text
    assert "Crisis template (text with {time}, {date}, {place}, {phone})" in form.text
    token = await ui.csrf("/review/drafts/new")
    fields = {"title": TEMPLATE_TITLE, "body": TEMPLATE_BODY, "channels": "sandbox", "csrf_token": token}
    plain = await ui.http.post("/review/drafts", data=fields, headers=SAME_ORIGIN)
    as_template = await ui.http.post(
        "/review/drafts", data={**fields, "purpose": "crisis_template"}, headers=SAME_ORIGIN
    )
    assert plain.status_code == as_template.status_code == 303
    assert [c["purpose"] for c in ui.user_api.created] == ["post", "crisis_template"]

    ui.user_api.drafts_by_id["d-t"] = {
        "id": "d-t", "version": 1, "content_hash": TEMPLATE_HASH, "status": "template_approved",
        "title": TEMPLATE_TITLE, "body": TEMPLATE_BODY, "channels": ["sandbox"], "patient_content": False,
        "consent_id": None, "scheduled_at": None, "author_id": AUTHOR.user_id, "author_name": AUTHOR.name,
        "stages": [], "note": "", "updated_at": datetime.now(UTC).isoformat(), "purpose": "crisis_template",
    }  # fmt: skip
    shown = await ui.http.get("/review/drafts/d-t")
    assert shown.status_code == 200, shown.text
    assert "Approved as a crisis template" in shown.text
    assert (
        'data-purpose="crisis_template">A crisis template: reviewed once, never published itself'
        in shown.text
    )
