"""The review UI on a migrated database, with a fake identity service, drafts API, history and workflow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.kit.canonical import content_hash
from services.kit.errors import Conflict, NotFound
from services.kit.tokens import Principal, SigningKey, issue_access_token
from services.review.ui.upstream import HistoryUnavailable, IssuedTokens, SignInRefused
from tests.unit.recording_audit import RecordingAudit
from workflows.contracts import DecisionAccepted

PASSWORD = "right-password"


AUTHOR = Principal("u-author", "author@t", "Avery Author", frozenset({"author"}))


COMPLIANCE = Principal("u-comp", "compliance@t", "Casey Compliance", frozenset({"compliance"}))


COMPLIANCE_2 = Principal("u-comp2", "compliance2@t", "Riley Second", frozenset({"compliance"}))


LEGAL = Principal("u-legal", "legal@t", "Lena Legal", frozenset({"legal"}))


ADMIN = Principal("u-admin", "admin@t", "Adrian Admin", frozenset({"admin"}))


PUBLISHER = Principal("u-pub", "publisher@t", "Parker Publisher", frozenset({"publisher"}))


PHARMACOVIGILANCE = Principal("u-pv", "pv@t", "Pat Pharmacovigilance", frozenset({"pharmacovigilance"}))


AUDITOR = Principal("u-aud", "auditor@t", "Aubrey Auditor", frozenset({"auditor"}))


TITLE = "Heart health month"


BODY = 'Cardiozen helps. Text Jane at 555-867-5309. <script>alert("x")</script>'


HASH = content_hash(title=TITLE, body=BODY, channels=["sandbox"], media_digests=[])


SAME_ORIGIN = {"Origin": "http://test", "Sec-Fetch-Site": "same-origin"}


@dataclass
class FakeIdentity:
    key: SigningKey
    ttl: int = 900
    refreshed: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    issued: int = 0

    def _tokens(self, principal: Principal) -> IssuedTokens:
        self.issued += 1
        token = issue_access_token(
            self.key,
            issuer="clearpost-gateway",
            audience="clearpost",
            principal=principal,
            ttl_seconds=self.ttl,
        )
        return IssuedTokens(token, self.ttl, f"refresh-{principal.user_id}-{self.issued}")

    async def sign_in(self, username: str, password: str) -> IssuedTokens:
        users = {
            p.username: p
            for p in (AUTHOR, COMPLIANCE, COMPLIANCE_2, LEGAL, ADMIN, PUBLISHER, PHARMACOVIGILANCE, AUDITOR)
        }
        if username not in users or password != PASSWORD:
            raise SignInRefused("invalid username or password")
        return self._tokens(users[username])

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        self.refreshed.append(refresh_token)
        if refresh_token.startswith("refresh-u-comp-"):
            return self._tokens(COMPLIANCE)
        raise SignInRefused("revoked")

    async def revoke(self, refresh_token: str) -> None:
        self.revoked.append(refresh_token)


@dataclass
class FakeUserApi:
    drafts_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions_by_id: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def drafts(self, token: str) -> list[dict[str, Any]]:
        return list(self.drafts_by_id.values())

    async def draft(self, token: str, draft_id: str) -> dict[str, Any]:
        if draft_id not in self.drafts_by_id:
            raise NotFound(f"draft {draft_id} does not exist")
        return self.drafts_by_id[draft_id]

    async def versions(self, token: str, draft_id: str) -> list[dict[str, Any]]:
        return self.versions_by_id.get(draft_id, [])

    async def revise(self, token: str, draft_id: str, content: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("revise", content["body"]))
        return self.drafts_by_id[draft_id]

    async def submit(self, token: str, draft_id: str) -> dict[str, Any]:
        self.calls.append(("submit", draft_id))
        return self.drafts_by_id[draft_id]

    created: list[dict[str, Any]] = field(default_factory=list)

    async def create_draft(self, token: str, content: dict[str, Any]) -> dict[str, Any]:
        if content["consent_ids"] == ["no-such-consent"]:
            raise NotFound("consent no-such-consent does not exist")
        self.created.append(content)
        return {"id": f"d-new-{len(self.created)}", **content}

    async def channel_limits(self, token: str) -> dict[str, int]:
        return {"sandbox": 40}

    async def renditions(
        self, token: str, body: str, channels: list[str], media_count: int
    ) -> list[dict[str, Any]]:
        """The publisher's measure: `sandbox` allows 40 characters and shows them all."""
        return [
            {"channel": c, "network": c, "length": len(body), "max_length": 40, "unit": "characters",
             "fold": None, "problems": [f"{len(body)} characters of 40 allowed"] if len(body) > 40 else []}
            for c in channels
        ]  # fmt: skip

    # The publisher's answers when nothing is paused or published (tests/unit/review_ui_publisher.py
    # has a fake publisher with accounts, publications, pauses and live posts).
    async def publishing(self, token: str, *, wait_seconds: float = 15.0) -> dict[str, Any]:
        return {"paused_all": False, "pauses": [], "held": []}

    async def publications(self, token: str, draft_id: str) -> list[dict[str, Any]]:
        return []

    consents_by_draft: dict[str, dict[str, Any]] = field(default_factory=dict)
    forms: dict[str, bytes] = field(default_factory=dict)

    async def draft_consents(self, token: str, draft_id: str) -> dict[str, Any]:
        self.calls.append(("draft_consents", draft_id))
        return self.consents_by_draft[draft_id]

    async def media(self, token: str, draft_id: str, digest: str) -> tuple[bytes, str]:
        return b"\xff\xd8image", "image/jpeg"

    async def consent_form(self, token: str, consent_id: str) -> tuple[bytes, str]:
        self.calls.append(("consent_form", consent_id))
        return self.forms[consent_id], "application/pdf"


class FakeHistory:
    def __init__(self) -> None:
        self.available = True
        self.readers: list[str] = []

    async def events(self, draft_id: str, reader: Principal) -> list[dict[str, Any]]:
        self.readers.append(reader.user_id)
        if not self.available:
            raise HistoryUnavailable("not yet")
        return [
            {"seq": 1, "at": "2026-01-01T10:00:00+00:00", "actor": "u-author", "action": "draft.created"},
            {
                "seq": 2,
                "at": "2026-01-01T10:01:00+00:00",
                "actor": "u-author",
                "actor_name": "Avery Author",
                "action": "draft.submitted",
            },
        ]


@dataclass
class FakeHandle:
    temporal: FakeTemporal

    async def execute_update(self, name: str, request: Any, result_type: Any = None) -> DecisionAccepted:
        if request.content_hash != self.temporal.current_hash:
            raise Conflict("the content hash does not match the version under review", code="refused")
        self.temporal.updates.append(request)
        return DecisionAccepted(
            request.stage, request.decision, "approved", "in_review", "2026-01-01T10:05:00+00:00"
        )


@dataclass
class FakeTemporal:
    current_hash: str = HASH
    updates: list[Any] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self)


@dataclass
class Ui:
    app: FastAPI
    http: httpx.AsyncClient
    identity: FakeIdentity
    user_api: FakeUserApi
    audit: RecordingAudit
    temporal: FakeTemporal
    history: FakeHistory

    async def sign_in(self, principal: Principal, password: str = PASSWORD, **headers: str) -> httpx.Response:
        self.http.cookies.clear()
        form = await self.http.get("/review/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        return await self.http.post(
            "/review/login",
            data={"username": principal.username, "password": password, "csrf_token": token.group(1)},
            headers={**SAME_ORIGIN, **headers},
        )

    async def csrf(self, path: str = "/review/my") -> str:
        page = await self.http.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None, page.text
        return found.group(1)

    async def rows(self, model: Any) -> list[Any]:
        async with self.app.state.sessionmaker() as session:
            return list((await session.execute(select(model))).scalars().all())
