"""The review UI over HTTP (no browser): sessions, CSRF, claims, comments, decisions, rendering.

The gateway, drafts and publisher are stood in for by fakes behind the UI's own interfaces; the
review database is real (SQLite and PostgreSQL, through migrations).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.kit.auth import StaticKeySet
from services.kit.tokens import load_or_create_signing_key
from services.review.main import app as review_app
from services.review.models import ReviewTask, Screening
from services.review.ui.deps import UiState
from services.review.ui.models import DraftComment, TaskClaim, UiSession
from services.review.ui.presenters import channel_previews, highlight, word_diff
from services.review.ui.security import FailureLimiter
from services.review.ui.upstream import AuditDraftHistory
from tests.database import DatabaseFactory
from tests.unit.recording_audit import RecordingAudit
from tests.unit.review_fixtures import FakeChannelStates
from tests.unit.review_ui_fixtures import (
    AUTHOR,
    BODY,
    COMPLIANCE,
    COMPLIANCE_2,
    HASH,
    LEGAL,
    PASSWORD,
    SAME_ORIGIN,
    TITLE,
    FakeHistory,
    FakeIdentity,
    FakeTemporal,
    FakeUserApi,
    Ui,
)


class FakeCredentials:
    async def confirms(self, username: str, password: str) -> bool:
        return password == PASSWORD


class FakeDrafts:
    """The drafts service's internal version route, as far as decisions read it: author, channels."""

    async def author_of(self, draft_id: str, version: int) -> str:
        return AUTHOR.user_id

    async def get_version(self, draft_id: str, version: int) -> dict[str, object]:
        return {"author_id": AUTHOR.user_id, "channels": ["sandbox"]}


@pytest.fixture
async def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory) -> AsyncIterator[Ui]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "t")
    for name, value in database("review").settings_env().items():
        monkeypatch.setenv(name, value)
    async with review_app.router.lifespan_context(review_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        identity, user_api, audit = FakeIdentity(key), FakeUserApi(), RecordingAudit()
        temporal, history = FakeTemporal(), FakeHistory()
        review_app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        review_app.state.audit = audit
        review_app.state.credentials = FakeCredentials()
        review_app.state.temporal = temporal
        review_app.state.drafts = FakeDrafts()
        review_app.state.channel_states = FakeChannelStates()
        review_app.state.ui = UiState(
            identity=identity,  # type: ignore[arg-type]
            user_api=user_api,  # type: ignore[arg-type]
            history=history,
            limiter=FailureLimiter(per_account=3, per_address=10, window_seconds=900),
            idle_timeout=timedelta(minutes=15),
            claim_idle=timedelta(minutes=30),
        )
        await seed(review_app, user_api)
        transport = httpx.ASGITransport(app=review_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Ui(review_app, http, identity, user_api, audit, temporal, history)


async def seed(app: FastAPI, user_api: FakeUserApi) -> None:
    now = datetime.now(UTC)
    stages = [
        {"stage": "compliance", "status": "pending", "roles": ["compliance"], "decisions": []},
        {"stage": "legal", "status": "pending", "roles": ["legal"], "decisions": []},
    ]
    user_api.drafts_by_id["d-1"] = {
        "id": "d-1", "version": 2, "content_hash": HASH, "status": "in_review", "title": TITLE, "body": BODY,
        "channels": ["sandbox"], "patient_content": False, "consent_id": None, "scheduled_at": None,
        "author_id": AUTHOR.user_id, "author_name": AUTHOR.name, "stages": stages, "note": "",
        "updated_at": now.isoformat(),
    }  # fmt: skip
    user_api.versions_by_id["d-1"] = [
        {"version": 1, "title": TITLE, "body": "Cardiozen helps. Call 555-000-1111."},
        {"version": 2, "title": TITLE, "body": BODY},
    ]
    screened = f"{TITLE}\n{BODY}"
    start = screened.index("555-867-5309")
    async with app.state.sessionmaker() as session:
        session.add(
            Screening(
                id="s-1", draft_id="d-1", version=2, content_hash=HASH, policy_version="p",
                categories=["phi"], products=["Cardiozen"], blocking=False, created_at=now,
                findings=[{"category": "phi", "severity": "warn", "start": start, "end": start + 12,
                           "text": "555-867-5309", "rule": "phi.phone", "explanation": "a phone number"}],
            )
        )  # fmt: skip
        for stage in ("compliance", "legal"):
            session.add(
                ReviewTask(
                    id=f"t-{stage}", draft_id="d-1", version=2, content_hash=HASH, stage=stage, roles=[stage],
                    author_id=AUTHOR.user_id, policy_version="p", screening_id="s-1", status="open",
                    opened_at=now - timedelta(minutes=5),
                )
            )  # fmt: skip
        await session.commit()


# --- sessions ------------------------------------------------------------------------------------


async def test_login_page_is_labelled_and_served_with_a_strict_policy(ui: Ui) -> None:
    page = await ui.http.get("/review/login")

    assert page.status_code == 200
    assert '<label for="username">Username</label>' in page.text
    assert '<label for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "<script" not in page.text and "style=" not in page.text
    assert page.headers["cache-control"] == "no-store"
    css = await ui.http.get("/review/static/app.css")
    assert css.status_code == 200 and css.headers["content-security-policy"] == csp


async def test_sign_in_sets_a_strict_session_cookie_and_keeps_tokens_server_side(ui: Ui) -> None:
    response = await ui.sign_in(COMPLIANCE)

    assert response.status_code == 303
    assert response.headers["location"] == "/review/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("clearpost_review_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/review" in cookie
    assert "Secure" not in cookie
    [stored] = await ui.rows(UiSession)
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert stored.id != secret and stored.refresh_token and stored.access_token not in cookie
    assert (await ui.http.get("/review/queue")).status_code == 200


async def test_cookie_is_secure_behind_tls(ui: Ui) -> None:
    response = await ui.sign_in(COMPLIANCE, **{"X-Forwarded-Proto": "https"})

    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("clearpost_review_session=")
    )
    assert "Secure" in cookie


async def test_the_session_cookie_is_not_a_credential_for_the_api(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    assert (await ui.http.get("/review/queue")).status_code == 200

    api = await ui.http.get("/api/v1/reviews/queue")

    assert api.status_code == 401


async def test_pages_send_strangers_to_sign_in(ui: Ui) -> None:
    response = await ui.http.get("/review/drafts/d-1")

    assert response.status_code == 303
    assert response.headers["location"] == "/review/login?next=/review/drafts/d-1"


async def test_wrong_password_then_rate_limited_even_with_the_right_one(ui: Ui) -> None:
    for _ in range(3):
        failed = await ui.sign_in(COMPLIANCE, password="wrong")
        assert failed.status_code == 401
        assert "Invalid username or password." in failed.text

    limited = await ui.sign_in(COMPLIANCE)

    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text
    assert await ui.rows(UiSession) == []


def test_failure_limiter_window_and_address_limit() -> None:
    clock = [0.0]
    limiter = FailureLimiter(per_account=2, per_address=3, window_seconds=60, clock=lambda: clock[0])
    limiter.failed("a@t", "1.2.3.4")
    limiter.failed("A@t ", "1.2.3.4")
    assert limiter.retry_after("a@t", "9.9.9.9") == 61
    limiter.failed("b@t", "1.2.3.4")
    assert limiter.retry_after("c@t", "1.2.3.4") is not None  # the address is over its limit
    clock[0] = 61.0
    assert limiter.retry_after("a@t", "1.2.3.4") is None


async def test_idle_session_ends(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    async with ui.app.state.sessionmaker() as session:
        await session.execute(
            update(UiSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=16))
        )
        await session.commit()

    response = await ui.http.get("/review/queue")

    assert response.status_code == 303
    assert response.headers["location"].endswith("&ended=1")
    assert await ui.rows(UiSession) == []


async def test_an_expiring_access_token_is_refreshed(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    [before] = await ui.rows(UiSession)
    async with ui.app.state.sessionmaker() as session:
        await session.execute(update(UiSession).values(access_expires_at=datetime.now(UTC)))
        await session.commit()

    assert (await ui.http.get("/review/queue")).status_code == 200

    [after] = await ui.rows(UiSession)
    assert ui.identity.refreshed == [f"refresh-{COMPLIANCE.user_id}-1"]  # the token issued at sign-in
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token
    assert f"refresh-{COMPLIANCE.user_id}-2" not in str(after.refresh_token)  # sealed again


async def test_the_database_holds_no_usable_token(ui: Ui) -> None:
    """The tokens are sealed with a key only the browser's cookie derives: a copy of the table is
    useless, an altered value ends the session, and a value moved to another session does not open."""
    await ui.sign_in(COMPLIANCE)
    [stored] = await ui.rows(UiSession)
    assert stored.access_token.startswith("sealed.v1.") and "." not in stored.access_token[10:]
    assert "refresh-" not in str(stored.refresh_token)
    assert (await ui.http.get("/review/queue")).status_code == 200

    mine = ui.http.cookies.get("clearpost_review_session", path="/review")
    await ui.sign_in(LEGAL)
    [theirs] = [row for row in await ui.rows(UiSession) if row.id != stored.id]
    async with ui.app.state.sessionmaker() as session:
        # Legal's sealed token copied into compliance's row: it does not open with compliance's key.
        await session.execute(
            update(UiSession).where(UiSession.id == stored.id).values(access_token=theirs.access_token)
        )
        await session.commit()
    ui.http.cookies.clear()
    ui.http.cookies.set("clearpost_review_session", str(mine), path="/review")

    moved = await ui.http.get("/review/queue")
    assert moved.status_code == 303 and "/review/login" in moved.headers["location"]
    assert stored.id not in {row.id for row in await ui.rows(UiSession)}  # that session is over


async def test_sign_out_revokes_and_forgets_the_session(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await ui.http.post(
        "/review/logout", data={"csrf_token": await ui.csrf("/review/queue")}, headers=SAME_ORIGIN
    )

    assert response.status_code == 303
    assert ui.identity.revoked == [f"refresh-{COMPLIANCE.user_id}-1"]  # opened with the cookie's key
    assert await ui.rows(UiSession) == []
    assert (await ui.http.get("/review/queue")).status_code == 303


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
)
async def test_cross_site_posts_are_refused_and_change_nothing(ui: Ui, headers: dict[str, str]) -> None:
    await ui.sign_in(COMPLIANCE)
    token = await ui.csrf("/review/queue")

    response = await ui.http.post(
        "/review/drafts/d-1/comments", data={"body": "forged", "csrf_token": token}, headers=headers
    )

    assert response.status_code == 403
    assert "cross-site" in response.text.lower()
    assert await ui.rows(DraftComment) == [] and ui.audit.events == []


async def test_a_post_without_the_sessions_token_is_refused(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await ui.http.post(
        "/review/claims",
        data={"draft_id": "d-1", "stage": "compliance", "csrf_token": "guess"},
        headers=SAME_ORIGIN,
    )

    assert response.status_code == 403
    assert await ui.rows(TaskClaim) == []


async def test_through_the_gateway_the_forwarded_origin_counts(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    token = await ui.csrf("/review/queue")

    response = await ui.http.post(
        "/review/drafts/d-1/comments",
        data={"body": "fine", "csrf_token": token},
        headers={"Origin": "https://clearpost.example", "X-Forwarded-Host": "clearpost.example",
                 "X-Forwarded-Proto": "https", "Sec-Fetch-Site": "same-origin"},
    )  # fmt: skip

    assert response.status_code == 303


# --- queue, claims, comments ------------------------------------------------------------------------


async def test_queue_shows_only_decidable_tasks_and_filters(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    page = await ui.http.get("/review/queue")
    legal_only = await ui.http.get("/review/queue", params={"stage": "legal"})
    other_channel = await ui.http.get("/review/queue", params={"channel": "linkedin"})

    assert 'data-stage="compliance"' in page.text and 'data-stage="legal"' not in page.text
    assert "Avery Author" in page.text and "5 min" in page.text and ">Claim</button>" in page.text
    assert 'data-draft-id="d-1"' not in legal_only.text
    assert 'data-draft-id="d-1"' not in other_channel.text


async def test_authors_get_their_own_page_not_the_queue(ui: Ui) -> None:
    await ui.sign_in(AUTHOR)

    assert (await ui.http.get("/review/")).headers["location"] == "/review/my"
    assert (await ui.http.get("/review/queue")).status_code == 403
    mine = await ui.http.get("/review/my")
    assert TITLE in mine.text and "In review" in mine.text


async def test_claims_are_visible_to_others_and_lapse(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    claimed = await ui.http.post(
        "/review/claims",
        data={"draft_id": "d-1", "stage": "compliance", "csrf_token": await ui.csrf("/review/queue")},
        headers=SAME_ORIGIN,
    )
    assert claimed.headers["location"] == "/review/drafts/d-1"

    await ui.sign_in(COMPLIANCE_2)
    queue = await ui.http.get("/review/queue")
    assert "Claimed by Casey Compliance" in queue.text
    token = await ui.csrf("/review/queue")
    taken = await ui.http.post(
        "/review/claims",
        data={"draft_id": "d-1", "stage": "compliance", "csrf_token": token},
        headers=SAME_ORIGIN,
    )
    assert taken.status_code == 409
    assert (await ui.http.get("/review/drafts/d-1/stages/compliance/decide")).status_code == 409

    async with ui.app.state.sessionmaker() as session:
        await session.execute(
            update(TaskClaim).values(last_active_at=datetime.now(UTC) - timedelta(minutes=31))
        )
        await session.commit()
    retaken = await ui.http.post(
        "/review/claims",
        data={"draft_id": "d-1", "stage": "compliance", "csrf_token": token},
        headers=SAME_ORIGIN,
    )
    assert retaken.status_code == 303
    [claim] = await ui.rows(TaskClaim)
    assert claim.holder_name == "Riley Second"


async def test_legal_cannot_claim_a_compliance_task(ui: Ui) -> None:
    await ui.sign_in(LEGAL)

    response = await ui.http.post(
        "/review/claims",
        data={"draft_id": "d-1", "stage": "compliance", "csrf_token": await ui.csrf("/review/queue")},
        headers=SAME_ORIGIN,
    )

    assert response.status_code == 403


async def test_comments_are_kept_and_audited(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await ui.http.post(
        "/review/drafts/d-1/comments",
        data={"body": "  <b>please</b> drop the number  ", "csrf_token": await ui.csrf("/review/queue")},
        headers=SAME_ORIGIN,
    )

    assert response.status_code == 303
    [comment] = await ui.rows(DraftComment)
    assert comment.body == "<b>please</b> drop the number" and comment.version == 2
    assert ui.audit.events[-1]["action"] == "draft.commented"
    assert ui.audit.events[-1]["details"] == {
        "comment_id": comment.id,
        "version": 2,
        "text_sha256": hashlib.sha256(comment.body.encode()).hexdigest(),
    }
    page = await ui.http.get("/review/drafts/d-1")
    assert "&lt;b&gt;please&lt;/b&gt; drop the number" in page.text


# --- the draft page and deciding -----------------------------------------------------------------


async def test_draft_page_marks_findings_escapes_text_and_shows_diff_and_history(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    page = await ui.http.get("/review/drafts/d-1")

    assert page.status_code == 200
    assert '<mark class="finding sev-warn" aria-describedby="finding-1">555-867-5309' in page.text
    assert 'id="finding-1"><strong>phi</strong>' in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "Cardiozen</strong> (examplamab)" in page.text
    assert "does not fit: " in page.text and "characters of 40 allowed" in page.text  # shown whole, never cut
    assert 'del class="cut"' not in page.text
    assert '<del><span class="visually-hidden">removed: </span>Call' in page.text
    assert page.text.index("draft.submitted") < page.text.index("draft.created")  # newest first
    assert "draft.submitted</strong> by Avery Author" in page.text  # the printed name when recorded
    assert "draft.created</strong> by u-author" in page.text
    assert "Decide compliance" in page.text and "Decide legal" not in page.text

    ui.history.available = False
    assert "history is not available" in (await ui.http.get("/review/drafts/d-1")).text
    assert ui.history.readers == [COMPLIANCE.user_id, COMPLIANCE.user_id]  # read as the user


async def test_the_draft_history_is_read_as_the_signed_in_user() -> None:
    seen: list[httpx.Request] = []

    def audit(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"events": []})

    async with httpx.AsyncClient(base_url="http://audit", transport=httpx.MockTransport(audit)) as http:
        await AuditDraftHistory(http).events("d-1", COMPLIANCE)

    [request] = seen
    assert request.url.path == "/internal/v1/events"
    assert dict(request.url.params) == {"draft_id": "d-1", "limit": "500", "reader": COMPLIANCE.user_id}


async def test_no_decision_form_without_the_role_or_for_own_draft(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    wrong_role = await ui.http.get("/review/drafts/d-1/stages/legal/decide")
    await ui.sign_in(AUTHOR)
    own = await ui.http.get("/review/drafts/d-1/stages/compliance/decide")

    for response in (wrong_role, own):
        assert response.status_code == 403
        assert 'name="password"' not in response.text


async def decide(
    ui: Ui, decision: str, password: str = PASSWORD, reason: str = "", hash_: str = HASH
) -> httpx.Response:
    form = await ui.http.get("/review/drafts/d-1/stages/compliance/decide")
    assert form.status_code == 200
    for label in ("Approve", "Reject", "Request changes"):
        assert f">{label}</button>" in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await ui.http.post(
        "/review/drafts/d-1/stages/compliance/decide",
        data={"decision": decision, "password": password, "reason": reason, "content_hash": hash_,
              "csrf_token": token.group(1)},
        headers=SAME_ORIGIN,
    )  # fmt: skip


async def test_approve_signs_through_the_workflow_and_shows_the_signature(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await decide(ui, "approve")

    assert response.status_code == 200, response.text
    assert "Signed: Approved" in response.text
    assert "Casey Compliance (compliance@t)" in response.text and "2026-01-01T10:05:00+00:00" in response.text
    assert "approve it for publication" in response.text
    [request] = ui.temporal.updates
    assert (request.stage, request.decision, request.content_hash, request.decider_id) == (
        "compliance", "approve", HASH, COMPLIANCE.user_id,
    )  # fmt: skip


async def test_reject_and_request_changes_need_a_reason(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    for decision in ("reject", "request_changes"):
        response = await decide(ui, decision, reason="  ")
        assert response.status_code == 422
        assert "A reason is required" in response.text
    assert ui.temporal.updates == []


async def test_wrong_password_signs_nothing_and_is_rate_limited(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)

    for _ in range(3):
        response = await decide(ui, "approve", password="wrong")
        assert response.status_code == 403
        assert "The password did not match. Nothing was signed." in response.text
    blocked = await decide(ui, "approve")

    assert blocked.status_code == 429
    assert ui.temporal.updates == []
    assert [e["details"]["refusal"] for e in ui.audit.events] == ["signature_failed"] * 3


async def test_a_changed_text_is_refused_and_explained(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    ui.temporal.current_hash = "f" * 64  # the author's next version is under review meanwhile
    ui.user_api.drafts_by_id["d-1"] = {
        **ui.user_api.drafts_by_id["d-1"],
        "content_hash": "f" * 64,
        "version": 3,
    }

    response = await decide_stale(ui)

    assert response.status_code == 409
    assert "The text changed after you opened it" in response.text
    assert ui.temporal.updates == []


async def decide_stale(ui: Ui) -> httpx.Response:
    # The form was opened on version 2 (HASH); the draft moved on before the reviewer signed.
    token = await ui.csrf("/review/queue")
    async with ui.app.state.sessionmaker() as session:
        await session.execute(update(ReviewTask).values(version=3))
        await session.commit()
    return await ui.http.post(
        "/review/drafts/d-1/stages/compliance/decide",
        data={"decision": "approve", "password": PASSWORD, "content_hash": HASH, "csrf_token": token},
        headers=SAME_ORIGIN,
    )


async def test_author_submits_a_new_version_with_their_own_token(ui: Ui) -> None:
    ui.user_api.drafts_by_id["d-1"]["status"] = "changes_requested"
    await ui.sign_in(AUTHOR)
    page = await ui.http.get("/review/drafts/d-1")
    assert "Submit a new version" in page.text

    response = await ui.http.post(
        "/review/drafts/d-1/versions",
        data={
            "title": TITLE,
            "body": "Cardiozen helps.",
            "channels": "sandbox",
            "csrf_token": await ui.csrf(),
        },
        headers=SAME_ORIGIN,
    )

    assert response.status_code == 303
    assert ui.user_api.calls == [("revise", "Cardiozen helps."), ("submit", "d-1")]


# --- presenters ------------------------------------------------------------------------------------


def test_highlight_splits_title_and_body_and_overlaps() -> None:
    title, body = "Cardiozen day", "Call 555-867-5309 now"
    text = f"{title}\n{body}"
    findings = [
        {"category": "product", "start": 0, "end": 9, "text": "Cardiozen"},
        {
            "category": "phi",
            "start": text.index("555"),
            "end": text.index("555") + 12,
            "text": "555-867-5309",
        },
        {"category": "phone_area", "start": text.index("555"), "end": text.index("555") + 3, "text": "555"},
        {"category": "moved", "start": 0, "end": 3, "text": "now"},  # offsets wrong: found by text
        {"category": "absent", "text": "nowhere"},
    ]

    marked = highlight(title, body, findings)

    assert [(s.text, [f.category for f in s.findings]) for s in marked.title] == [
        ("Cardiozen", ["product"]), (" day", []),
    ]  # fmt: skip
    assert [(s.text, sorted(f.category for f in s.findings)) for s in marked.body] == [
        ("Call ", []), ("555", ["phi", "phone_area"]), ("-867-5309", ["phi"]), (" ", []), ("now", ["moved"]),
    ]  # fmt: skip
    assert [f.located for f in marked.findings] == [True, True, True, True, False]


def test_word_diff_and_channel_previews() -> None:
    parts = word_diff("Call Jane today", "Call the clinic today")
    assert [(p.kind, p.text) for p in parts] == [
        ("same", "Call "), ("removed", "Jane"), ("added", "the clinic"), ("same", " today"),
    ]  # fmt: skip
    renditions = [
        {"channel": "a", "network": "x", "length": 12, "max_length": 280, "unit": "weighted characters",
         "fold": None, "problems": []},
        {"channel": "b", "network": "instagram", "length": 12, "max_length": 2200, "unit": "characters",
         "fold": 5, "problems": ["needs at least one image"]},
    ]  # fmt: skip
    [fits, folded, unknown] = channel_previews("x" * 12, ["a", "b", "c"], renditions)
    assert fits.fits and (fits.shown, fits.folded, fits.unit) == ("x" * 12, "", "weighted characters")
    assert (folded.shown, folded.folded, folded.fits) == ("x" * 5, "x" * 7, False)  # never cut: folded
    assert unknown.limit is None and unknown.fits and unknown.shown == "x" * 12


async def test_unknown_draft_is_a_404_page(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    response = await ui.http.get("/review/drafts/nope")
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text


def _with_consent_and_photo(ui: Ui) -> None:
    digest = "ab" * 32
    draft = ui.user_api.drafts_by_id["d-1"]
    draft["consent_ids"] = ["c-1"]
    draft["media"] = [
        {
            "digest": digest, "media_type": "image/jpeg", "width": 64, "height": 64, "size": 900,
            "faces": [[1, 2, 30, 30]], "staff_stock": False, "staff_stock_confirmed_by": None,
            "consent_id": None, "patient": True, "url": f"/api/v1/drafts/d-1/media/{digest}",
        }
    ]  # fmt: skip
    ui.user_api.consents_by_draft["d-1"] = {
        "draft_id": "d-1",
        "consents": [
            {
                "id": "c-1", "state": "expired", "name_use": "first_name", "story_use": True,
                "channels": ["sandbox"], "media_digests": [digest], "collected_on": "2025-01-02",
                "expires_on": "2025-06-30", "revoked_at": None, "form_media_type": "application/pdf",
                "form_url": "/api/v1/consents/c-1/form",
            }
        ],
        "missing": ["c-gone"],
    }  # fmt: skip
    ui.user_api.forms["c-1"] = b"%PDF-1.4 signed %%EOF"


async def test_draft_page_shows_the_consents_it_relies_on_and_faces_in_its_images(ui: Ui) -> None:
    _with_consent_and_photo(ui)
    await ui.sign_in(COMPLIANCE)

    page = await ui.http.get("/review/drafts/d-1")

    assert page.status_code == 200, page.text
    assert "Consent records this draft relies on" in page.text
    assert "<code>c-1</code>" in page.text and "expired" in page.text and "first name only" in page.text
    assert "2025-06-30" in page.text and "no such consent record" in page.text
    assert 'href="/review/consents/c-1/form"' in page.text
    assert "Faces found: 1" in page.text and "Counts as patient content" in page.text
    form = await ui.http.get("/review/consents/c-1/form")
    assert form.status_code == 200 and form.content == b"%PDF-1.4 signed %%EOF"
    assert form.headers["content-type"] == "application/pdf"


async def test_the_signed_form_is_not_linked_or_served_for_other_reviewers(ui: Ui) -> None:
    _with_consent_and_photo(ui)
    await ui.sign_in(LEGAL)

    page = await ui.http.get("/review/drafts/d-1")

    assert page.status_code == 200
    assert "<code>c-1</code>" in page.text and "on file (compliance only)" in page.text
    assert "/review/consents/c-1/form" not in page.text
    assert (await ui.http.get("/review/consents/c-1/form")).status_code == 403
    assert ("consent_form", "c-1") not in ui.user_api.calls


# --- a new draft ------------------------------------------------------------------------------------


async def test_an_author_writes_a_new_draft_in_the_ui(ui: Ui) -> None:
    await ui.sign_in(AUTHOR)
    assert 'href="/review/drafts/new"' in (await ui.http.get("/review/my")).text
    form = await ui.http.get("/review/drafts/new")
    assert form.status_code == 200 and 'name="channels" value="sandbox"' in form.text

    response = await ui.http.post(
        "/review/drafts",
        data={
            "csrf_token": await ui.csrf("/review/drafts/new"),
            "title": "Flu clinic",
            "body": "Walk-in flu shots Saturday.",
            "channels": ["sandbox"],
            "consent_ids": "c-1, c-2",
            "scheduled_at": "2026-12-01T09:30",
        },
        headers=SAME_ORIGIN,
    )

    assert response.status_code == 303 and response.headers["location"] == "/review/drafts/d-new-1"
    assert ui.user_api.created == [
        {
            "title": "Flu clinic",
            "body": "Walk-in flu shots Saturday.",
            "channels": ["sandbox"],
            "patient_content": False,
            "consent_ids": ["c-1", "c-2"],
            "scheduled_at": "2026-12-01T09:30:00+00:00",  # the form's time is UTC
            "purpose": "post",
        }
    ]


async def test_a_refused_new_draft_keeps_what_was_typed_and_says_why(ui: Ui) -> None:
    await ui.sign_in(AUTHOR)
    typed = {"title": "Flu clinic", "body": "Walk-in flu shots.", "channels": ["sandbox"]}

    unknown = await ui.http.post(
        "/review/drafts",
        data={**typed, "csrf_token": await ui.csrf("/review/drafts/new"), "consent_ids": "no-such-consent"},
        headers=SAME_ORIGIN,
    )
    bad_time = await ui.http.post(
        "/review/drafts",
        data={**typed, "csrf_token": await ui.csrf("/review/drafts/new"), "scheduled_at": "soon"},
        headers=SAME_ORIGIN,
    )

    assert unknown.status_code == 404 and "consent no-such-consent does not exist" in unknown.text
    assert 'value="Flu clinic"' in unknown.text and "Walk-in flu shots." in unknown.text
    assert bad_time.status_code == 422 and "date and time (UTC)" in bad_time.text
    assert ui.user_api.created == []


async def test_only_authors_get_the_new_draft_form_and_posts_need_the_token(ui: Ui) -> None:
    await ui.sign_in(COMPLIANCE)
    assert (await ui.http.get("/review/drafts/new")).status_code == 403
    assert 'href="/review/drafts/new"' not in (await ui.http.get("/review/queue")).text
    await ui.sign_in(AUTHOR)
    forged = await ui.http.post(
        "/review/drafts",
        data={"title": "t", "body": "b", "channels": ["sandbox"], "csrf_token": "forged"},
        headers=SAME_ORIGIN,
    )
    assert forged.status_code == 403 and ui.user_api.created == []
