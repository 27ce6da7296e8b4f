"""What the review UI asks other services, always as the signed-in user (their own bearer token).

The gateway signs users in and refreshes their tokens; the drafts and publisher services answer
with whatever that user may see. The UI therefore has no access of its own to widen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from starlette.datastructures import UploadFile

from services.kit.errors import ClearpostError, PayloadTooLarge, TooManyAttempts, UpstreamUnavailable
from services.kit.http import internal_json
from services.kit.tokens import Principal


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


class SignInRefused(Exception):
    """The gateway refused the credentials (or the refresh token): sign in again."""


class GatewayIdentity:
    """The gateway's token endpoint: sign in (with a refresh token), refresh, revoke."""

    def __init__(self, http: httpx.AsyncClient, gateway_url: str, *, address: str | None = None) -> None:
        self._http = http
        self._gateway_url = gateway_url
        self._base = f"{gateway_url}/api/v1/auth"
        self._address = address

    def on_behalf_of(self, address: str | None) -> GatewayIdentity:
        """The same endpoint, telling the gateway which browser address a password came from, so its
        per-address limit counts browsers, not this service (X-Forwarded-For, trusted from loopback
        or the configured --forwarded-allow-ips only)."""
        return GatewayIdentity(self._http, self._gateway_url, address=address)

    async def _token(self, form: dict[str, str]) -> IssuedTokens:
        headers = {"X-Forwarded-For": self._address} if self._address else {}
        try:
            response = await self._http.post(f"{self._base}/token", data=form, headers=headers, timeout=10.0)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity service did not answer; try again") from exc
        if response.status_code in (400, 401):
            raise SignInRefused(response.json().get("detail", "refused"))
        if response.status_code == 429:
            # The gateway's lockout (persisted, per account and per address) is the one that counts.
            raise TooManyAttempts(response.json().get("detail", "too many failed sign-ins; try again later"))
        if response.status_code != 200:
            raise UpstreamUnavailable(f"the identity service answered {response.status_code}; try again")
        body = response.json()
        return IssuedTokens(body["access_token"], int(body["expires_in"]), body.get("refresh_token"))

    async def sign_in(self, username: str, password: str) -> IssuedTokens:
        return await self._token({"username": username, "password": password, "scope": "offline_access"})

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def oidc_start(
        self,
        *,
        redirect_uri: str,
        token: str | None = None,
        binding: str | None = None,
        context: dict[str, str] | None = None,
    ) -> tuple[str, str]:
        """(the identity provider's authorization URL, its state): a sign-in, or with the signer's
        `token` and a decision's `binding`, a signing re-authentication."""
        params: dict[str, str] = {"redirect_uri": redirect_uri}
        if binding is not None:
            params.update(purpose="signing", binding=binding)
        if context is not None:
            params["context"] = json.dumps(context)
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        body = await self._oidc("GET", "login", params=params, headers=headers)
        return str(body["authorization_url"]), str(body["state"])

    async def oidc_complete(self, *, code: str | None, state: str, error: str | None) -> dict[str, Any]:
        """The gateway's exchange of the code: tokens for a sign-in, a one-time proof for a signature."""
        params = {"state": state, **({"code": code} if code else {}), **({"error": error} if error else {})}
        headers = {"X-Forwarded-For": self._address} if self._address else {}
        return await self._oidc("GET", "callback", params=params, headers=headers)

    async def oidc_logout_url(self, post_logout_redirect_uri: str) -> str | None:
        try:
            body = await self._oidc(
                "GET", "logout", params={"post_logout_redirect_uri": post_logout_redirect_uri}, headers={}
            )
        except ClearpostError:
            return None  # signing out of Clearpost still works; the provider's session stays
        url = body.get("end_session_url")
        return url if isinstance(url, str) else None

    async def _oidc(
        self, method: str, path: str, *, params: dict[str, str], headers: dict[str, str]
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, f"{self._base}/oidc/{path}", params=params, headers=headers, timeout=15.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the identity service did not answer; try again") from exc
        _raise_for_refusal(response)
        body: dict[str, Any] = response.json()
        return body

    async def revoke(self, refresh_token: str) -> None:
        try:
            await self._http.post(f"{self._base}/revoke", data={"token": refresh_token}, timeout=10.0)
        except httpx.HTTPError:
            pass  # signing out still ends the UI session; the token lapses on its own


# Uploads wait longer than page reads: the drafts service decodes, re-encodes and scans the image.
UPLOAD_TIMEOUT_SECONDS = 60.0


# Images and signed forms: the drafts service's limit (10 MiB), under the multipart body limit every
# service applies (services/kit/limits.py, MAX_UPLOAD_BYTES = 11 MiB; the rest is multipart framing).
MAX_FILE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file the user chose in a form, read within the size limit."""

    filename: str
    content_type: str
    data: bytes

    @classmethod
    async def read(cls, file: UploadFile) -> Upload:
        """The file, or 413 when it is larger than the limit (then nothing is sent on)."""
        data = await file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return cls(file.filename or "", file.content_type or "", data)

    def as_file(self) -> tuple[str, bytes, str]:
        return (self.filename or "upload", self.data, self.content_type or "application/octet-stream")


def _raise_for_refusal(response: httpx.Response) -> None:
    """An upstream 4xx/5xx as the one error type, keeping its code, status and reason."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        code, detail = body.get("error", "upstream_error"), body.get("detail", response.text)
    except ValueError:
        code, detail = "upstream_error", response.text
    if isinstance(detail, list):  # validation problems: field and message
        detail = "; ".join(f"{'.'.join(map(str, p.get('loc', [])[1:]))}: {p.get('msg')}" for p in detail)
    raise ClearpostError(str(detail), code=str(code), status_code=response.status_code)


class UserApi:
    """The public APIs of the drafts and publisher services, called with one user's access token."""

    def __init__(self, http: httpx.AsyncClient, *, drafts_url: str, publisher_url: str) -> None:
        self._http = http
        self._drafts = f"{drafts_url}/api/v1/drafts"
        self._consents = f"{drafts_url}/api/v1/consents"
        self._publisher = publisher_url

    async def _call(
        self, token: str, method: str, url: str, *, wait_seconds: float = 15.0, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._http.request(method, url, headers=headers, timeout=wait_seconds, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{url} did not answer; try again") from exc
        _raise_for_refusal(response)
        return response.json()

    def _draft(self, draft_id: str) -> str:
        return f"{self._drafts}/{quote(draft_id, safe='')}"

    async def drafts(self, token: str) -> list[dict[str, Any]]:
        body = await self._call(token, "GET", self._drafts)
        drafts: list[dict[str, Any]] = body["drafts"]
        return drafts

    async def draft(self, token: str, draft_id: str) -> dict[str, Any]:
        draft: dict[str, Any] = await self._call(token, "GET", self._draft(draft_id))
        return draft

    async def versions(self, token: str, draft_id: str) -> list[dict[str, Any]]:
        body = await self._call(token, "GET", f"{self._draft(draft_id)}/versions")
        versions: list[dict[str, Any]] = body["versions"]
        return versions

    async def create_draft(self, token: str, content: dict[str, Any]) -> dict[str, Any]:
        draft: dict[str, Any] = await self._call(token, "POST", self._drafts, json=content)
        return draft

    async def revise(self, token: str, draft_id: str, content: dict[str, Any]) -> dict[str, Any]:
        draft: dict[str, Any] = await self._call(token, "PUT", self._draft(draft_id), json=content)
        return draft

    async def submit(self, token: str, draft_id: str) -> dict[str, Any]:
        draft: dict[str, Any] = await self._call(token, "POST", f"{self._draft(draft_id)}/submit")
        return draft

    async def draft_consents(self, token: str, draft_id: str) -> dict[str, Any]:
        """Scope and state of the consents the draft relies on (no patient identity; audited)."""
        body: dict[str, Any] = await self._call(token, "GET", f"{self._draft(draft_id)}/consents")
        return body

    async def _bytes(self, token: str, url: str) -> tuple[bytes, str]:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._http.get(url, headers=headers, timeout=15.0)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{url} did not answer; try again") from exc
        _raise_for_refusal(response)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    async def media(self, token: str, draft_id: str, digest: str) -> tuple[bytes, str]:
        return await self._bytes(token, f"{self._draft(draft_id)}/media/{quote(digest, safe='')}")

    async def consent_form(self, token: str, consent_id: str) -> tuple[bytes, str]:
        """The signed form (compliance and admins; the drafts service refuses others and audits)."""
        return await self._bytes(token, f"{self._consents}/{quote(consent_id, safe='')}/form")

    async def renditions(
        self, token: str, body: str, channels: list[str], media_count: int
    ) -> list[dict[str, Any]]:
        """Each channel's rendition of the body, measured as its network counts (the publisher's)."""
        answer = await self._call(
            token,
            "POST",
            f"{self._publisher}/api/v1/renditions",
            json={"body": body, "channels": channels, "media_count": media_count},
        )
        renditions: list[dict[str, Any]] = answer["renditions"]
        return renditions

    async def channel_limits(self, token: str) -> dict[str, int]:
        body = await self._call(token, "GET", f"{self._publisher}/api/v1/channels")
        return {c["name"]: int(c["max_length"]) for c in body["channels"]}

    # --- images of a draft (the author; compliance confirms a staff/stock mark) -----------------

    def _media(self, draft_id: str, digest: str) -> str:
        return f"{self._draft(draft_id)}/media/{quote(digest, safe='')}"

    async def add_media(
        self, token: str, draft_id: str, upload: Upload, *, staff_stock: bool, consent_id: str | None
    ) -> dict[str, Any]:
        """Attach an image (the drafts service judges it by content, re-encodes it, finds faces)."""
        fields = {"staff_stock": "true" if staff_stock else "false"}
        if consent_id:
            fields["consent_id"] = consent_id
        draft: dict[str, Any] = await self._call(
            token,
            "POST",
            f"{self._draft(draft_id)}/media",
            data=fields,
            files={"file": upload.as_file()},
            wait_seconds=UPLOAD_TIMEOUT_SECONDS,
        )
        return draft

    async def update_media(
        self, token: str, draft_id: str, digest: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        """The author's staff/stock mark and the consent named for the image (`MediaPatch`)."""
        item: dict[str, Any] = await self._call(token, "PATCH", self._media(draft_id, digest), json=patch)
        return item

    async def remove_media(self, token: str, draft_id: str, digest: str) -> dict[str, Any]:
        draft: dict[str, Any] = await self._call(token, "DELETE", self._media(draft_id, digest))
        return draft

    async def confirm_staff_stock(self, token: str, draft_id: str, digest: str) -> dict[str, Any]:
        item: dict[str, Any] = await self._call(
            token, "POST", f"{self._media(draft_id, digest)}/confirm-staff-stock"
        )
        return item

    # --- consent records (compliance and admins; every read is audited by the drafts service) ----

    def _consent(self, consent_id: str) -> str:
        return f"{self._consents}/{quote(consent_id, safe='')}"

    async def consents(
        self, token: str, *, state: str | None = None, patient_ref: str | None = None
    ) -> list[dict[str, Any]]:
        # Searched by POST: a patient reference in a query string would reach access logs and traces.
        search = {k: v for k, v in (("state", state), ("patient_ref", patient_ref)) if v}
        body = await self._call(token, "POST", f"{self._consents}/search", json=search)
        records: list[dict[str, Any]] = body["consents"]
        return records

    async def consent(self, token: str, consent_id: str) -> dict[str, Any]:
        record: dict[str, Any] = await self._call(token, "GET", self._consent(consent_id))
        return record

    async def create_consent(self, token: str, record: dict[str, Any], form: Upload) -> dict[str, Any]:
        """Record a consent: `record` (the `ConsentIn` fields) as JSON and the signed form, multipart."""
        created: dict[str, Any] = await self._call(
            token,
            "POST",
            self._consents,
            data={"record": json.dumps(record)},
            files={"form": form.as_file()},
            wait_seconds=UPLOAD_TIMEOUT_SECONDS,
        )
        return created

    async def revoke_consent(self, token: str, consent_id: str, reason: str) -> dict[str, Any]:
        """Revoke at once; the answer is the record and what happened to each draft relying on it."""
        revocation: dict[str, Any] = await self._call(
            token, "POST", f"{self._consent(consent_id)}/revoke", json={"reason": reason}
        )
        return revocation

    # --- the publisher: comments (the moderation inbox, docs/comments.md) ------------------------

    async def comments(self, token: str, *, category: str = "any") -> list[dict[str, Any]]:
        body = await self._call(
            token, "GET", f"{self._publisher}/api/v1/comments", params={"category": category}
        )
        comments: list[dict[str, Any]] = body["comments"]
        return comments

    async def hide_comment(self, token: str, comment_id: str, reason: str) -> dict[str, Any]:
        url = f"{self._publisher}/api/v1/comments/{quote(comment_id, safe='')}/hide"
        comment: dict[str, Any] = await self._call(token, "POST", url, json={"reason": reason})
        return comment

    # --- the publisher: channel accounts, publications, takedown, pause, live posts -------------

    def _accounts(self, suffix: str = "") -> str:
        return f"{self._publisher}/api/v1/channel-accounts{suffix}"

    async def channel_accounts(self, token: str) -> list[dict[str, Any]]:
        body = await self._call(token, "GET", self._accounts())
        accounts: list[dict[str, Any]] = body["accounts"]
        return accounts

    async def connect_account(self, token: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Connect a Mastodon or Bluesky account (`ChannelAccountIn`); the publisher checks it first."""
        account: dict[str, Any] = await self._call(token, "POST", self._accounts(), json=fields)
        return account

    async def authorization_url(self, token: str, network: str, name: str, target: str | None) -> str:
        """Where to send the admin's browser to connect an OAuth account (asked for as JSON)."""
        params = {"name": name, **({"target": target} if target else {})}
        body = await self._call(
            token, "GET", self._accounts(f"/{quote(network, safe='')}/authorize"), params=params
        )
        return str(body["authorization_url"])

    async def check_account(self, token: str, name: str) -> dict[str, Any]:
        account: dict[str, Any] = await self._call(
            token, "POST", self._accounts(f"/{quote(name, safe='')}/check")
        )
        return account

    async def disconnect_account(self, token: str, name: str) -> dict[str, Any]:
        url = self._accounts(f"/{quote(name, safe='')}")
        account: dict[str, Any] = await self._call(token, "DELETE", url)
        return account

    async def publications(self, token: str, draft_id: str) -> list[dict[str, Any]]:
        """Each network a draft went to: its URL, status and, once taken down, the removal evidence."""
        body = await self._call(
            token, "GET", f"{self._publisher}/api/v1/publications", params={"draft_id": draft_id}
        )
        publications: list[dict[str, Any]] = body["publications"]
        return publications

    async def take_down(self, token: str, draft_id: str, reason: str, password: str) -> dict[str, Any]:
        accepted: dict[str, Any] = await self._call(
            token,
            "POST",
            f"{self._publisher}/api/v1/drafts/{quote(draft_id, safe='')}/takedown",
            json={"reason": reason, "password": password},
        )
        return accepted

    async def publishing(self, token: str, *, wait_seconds: float = 15.0) -> dict[str, Any]:
        """What is paused now and which posts it holds (the banner on every page)."""
        state: dict[str, Any] = await self._call(
            token, "GET", f"{self._publisher}/api/v1/publishing", wait_seconds=wait_seconds
        )
        return state

    async def pause_or_resume(self, token: str, action: str, fields: dict[str, Any]) -> dict[str, Any]:
        """`action` is `pause` or `resume`; `fields` are the reason, the password and maybe an account."""
        answer: dict[str, Any] = await self._call(
            token, "POST", f"{self._publisher}/api/v1/publishing/{quote(action, safe='')}", json=fields
        )
        return answer

    async def live_posts(
        self,
        token: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        expiring_within_days: int | None = None,
    ) -> list[dict[str, Any]]:
        """Posts that went live in [start, end), or the live ones expiring within that many days."""
        params: dict[str, str] = {}
        if expiring_within_days is not None:
            params["expiring_within_days"] = str(expiring_within_days)
        for key, value in (("start", start), ("end", end)):
            if value is not None:
                params[key] = value.isoformat()
        body = await self._call(token, "GET", f"{self._publisher}/api/v1/live-posts", params=params)
        posts: list[dict[str, Any]] = body["live_posts"]
        return posts


class HistoryUnavailable(Exception):
    """The audit service has no draft-scoped history for services (yet), or did not answer."""


class DraftHistory(Protocol):
    async def events(self, draft_id: str, reader: Principal) -> list[dict[str, Any]]:
        """The draft's own audit events, in any order; the read is recorded as `reader`'s."""
        ...


class AuditDraftHistory:
    """`GET /internal/v1/events?draft_id=` on the audit service, with the service credential.

    Called only after the drafts service has let the signed-in user read the draft, so the
    history is shown to exactly the people allowed to see the draft.
    """

    LIMIT = 500

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def events(self, draft_id: str, reader: Principal) -> list[dict[str, Any]]:
        # The service credential fetches; the signed-in user reads, and the trail says so.
        params = {"draft_id": draft_id, "limit": self.LIMIT, "reader": reader.user_id}
        try:
            body = await internal_json(self._http, "GET", "/internal/v1/events", params=params)
        except ClearpostError as exc:
            if exc.status_code in (404, 405):
                raise HistoryUnavailable("the audit service does not offer a draft's history yet") from exc
            raise HistoryUnavailable(exc.detail) from exc
        events: list[dict[str, Any]] = body["events"]
        return events
