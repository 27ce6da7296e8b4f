"""A fake of the publisher's API as the review UI calls it: channel accounts, publications, takedown,
pause and resume, live posts. It answers, and refuses, the way the publisher does (its error reasons
and status codes), and records every call with the fields it was sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from services.kit.errors import BadRequest, ClearpostError, Forbidden, NotFound, UpstreamUnavailable
from tests.unit.review_ui_fixtures import PASSWORD, SAME_ORIGIN, FakeUserApi, Ui

UNREACHABLE = UpstreamUnavailable("http://127.0.0.1:9/api/v1/channel-accounts did not answer; try again")
AUTHORIZE_URL = "https://www.facebook.example/v19.0/dialog/oauth?client_id=c&state=s-123"


def account(name: str, network: str = "mastodon", status: str = "ok", **changes: Any) -> dict[str, Any]:
    return {
        "name": name, "network": network, "base_url": "https://mastodon.example", "status": status,
        "status_reason": "" if status == "ok" else f"the network says the token is {status}",
        "account_ref": "109", "display_name": "Clinic", "scopes": ["write:statuses"], "facts": {},
        "expires_at": None, "connected_by": "u-admin", "connected_at": "2026-11-01T09:00:00+00:00",
        "checked_at": None, "disconnected_at": None, "paused": False, "usable": status == "ok", **changes,
    }  # fmt: skip


def publication(channel: str, network: str, status: str = "published", **changes: Any) -> dict[str, Any]:
    return {
        "id": f"p-{channel}", "draft_id": "d-1", "version": 2, "channel": channel, "content_hash": "h",
        "status": status, "external_id": f"ext-{channel}", "created_at": "2026-12-01T10:00:00+00:00",
        "published_at": "2026-12-01T10:00:05+00:00", "network": network,
        "url": f"https://{network}.example/@clinic/{channel}", "removed_at": None, "removal": None,
        **changes,
    }  # fmt: skip


def live_post(draft_id: str, published_at: str, **changes: Any) -> dict[str, Any]:
    return {
        "draft_id": draft_id, "version": 2, "status": "live", "published_at": published_at,
        "expires_at": None, "on_expiry": "pull", "takedown_reason": "", "takedown_failure": "",
        "takedown_requested_at": None, "takedown_completed_at": None, **changes,
    }  # fmt: skip


@dataclass
class FakePublisherApi(FakeUserApi):
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    publications_by_draft: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pauses: list[dict[str, Any]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    live: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # The next call to the publisher fails like this (a network that does not answer, say).
    fail_next: ClearpostError | None = None
    live_queries: list[dict[str, Any]] = field(default_factory=list)
    publishing_down: bool = False  # GET /api/v1/publishing does not answer

    def _failing(self) -> None:
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure

    @staticmethod
    def _password(fields: dict[str, Any], nothing: str) -> None:
        if fields["password"] != PASSWORD:
            raise Forbidden(f"the password did not match; {nothing}", code="signature_failed")

    async def drafts(self, token: str) -> list[dict[str, Any]]:
        """Summaries, as GET /api/v1/drafts gives them: without `scheduled_at` or the text."""
        keys = ("id", "version", "status", "title", "channels", "author_id", "author_name", "updated_at")
        return [{k: d[k] for k in keys if k in d} for d in self.drafts_by_id.values()]

    async def channel_accounts(self, token: str) -> list[dict[str, Any]]:
        return list(self.accounts.values())

    async def connect_account(self, token: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(("connect", fields))
        self._failing()
        if fields["name"] in self.accounts:
            raise BadRequest(f"an account named {fields['name']!r} exists", code="account_exists")
        if fields["network"] == "mastodon" and not fields.get("access_token"):
            raise BadRequest("a mastodon account needs `access_token`", code="credentials")
        if fields.get("access_token") == "wrong-token":
            raise BadRequest("mastodon refused the access token: The access token is invalid", code="refused")
        self.accounts[fields["name"]] = account(fields["name"], fields["network"])
        return self.accounts[fields["name"]]

    async def authorization_url(self, token: str, network: str, name: str, target: str | None) -> str:
        self.sent.append(("authorize", {"network": network, "name": name, "target": target}))
        self._failing()
        if network == "linkedin":
            raise BadRequest("linkedin is not configured: no client_id", code="network_not_configured")
        return AUTHORIZE_URL

    async def check_account(self, token: str, name: str) -> dict[str, Any]:
        self.sent.append(("check", {"name": name}))
        self._failing()
        if name not in self.accounts:
            raise NotFound(f"no channel account {name!r}")
        self.accounts[name]["checked_at"] = "2026-12-02T08:00:00+00:00"
        return self.accounts[name]

    async def disconnect_account(self, token: str, name: str) -> dict[str, Any]:
        self.sent.append(("disconnect", {"name": name}))
        self._failing()
        if name not in self.accounts:
            raise NotFound(f"no channel account {name!r}")
        self.accounts[name]["status"] = "disconnected"
        return self.accounts[name]

    async def publications(self, token: str, draft_id: str) -> list[dict[str, Any]]:
        return self.publications_by_draft.get(draft_id, [])

    async def take_down(self, token: str, draft_id: str, reason: str, password: str) -> dict[str, Any]:
        self.sent.append(("takedown", {"draft_id": draft_id, "reason": reason}))
        self._failing()
        self._password({"password": password}, "nothing was taken down")
        return {"draft_id": draft_id, "status": "taking_down", "request_id": "r-1"}

    async def publishing(self, token: str, *, wait_seconds: float = 15.0) -> dict[str, Any]:
        if self.publishing_down:
            raise UNREACHABLE
        return {
            "paused_all": any(p["scope"] == "all" for p in self.pauses),
            "pauses": self.pauses,
            "held": self.held,
        }

    async def pause_or_resume(self, token: str, action: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((action, {k: v for k, v in fields.items() if k != "password"}))
        self._failing()
        self._password(fields, f"nothing was {action}d")
        scope = fields.get("account") or "all"
        if scope != "all" and scope not in self.accounts:
            raise NotFound(f"no channel account {scope!r}")
        if action == "pause":
            pause = {
                "id": f"pz-{len(self.pauses)}", "scope": scope, "reason": fields["reason"],
                "paused_by": "u-comp", "paused_at": "2026-12-02T08:00:00+00:00",
            }  # fmt: skip
            self.pauses.append(pause)
            return pause
        self.pauses = [p for p in self.pauses if p["scope"] != scope]
        woken, self.held = self.held, []
        return {"scope": scope, "woken": woken}

    async def live_posts(
        self,
        token: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        expiring_within_days: int | None = None,
    ) -> list[dict[str, Any]]:
        self.live_queries.append({"start": start, "end": end, "expiring_within_days": expiring_within_days})
        self._failing()
        if expiring_within_days is not None:
            return [p for p in self.live if p["expires_at"] is not None]
        return [
            p
            for p in self.live
            if (start is None or datetime.fromisoformat(p["published_at"]) >= start)
            and (end is None or datetime.fromisoformat(p["published_at"]) < end)
        ]


def install(ui: Ui) -> FakePublisherApi:
    """This fake in place of the UI's user API, with the drafts the `ui` fixture seeded."""
    fake = FakePublisherApi(drafts_by_id=ui.user_api.drafts_by_id, versions_by_id=ui.user_api.versions_by_id)
    ui.app.state.ui.user_api = fake
    ui.user_api = fake
    return fake


async def post_form(
    ui: Ui, path: str, data: dict[str, Any], token_page: str = "/review/my"
) -> httpx.Response:
    """A form post from the UI's own page (same origin, with the session's CSRF token)."""
    token = await ui.csrf(token_page)
    return await ui.http.post(path, data={**data, "csrf_token": token}, headers=SAME_ORIGIN)
