"""The review UI's consent record pages and the images on a draft page, over HTTP (no browser).

Same fixture as test_review_ui.py (real review database, fakes for the gateway and the drafts API),
with a drafts API fake that also answers the consent and media routes the way the drafts service does.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from services.kit.errors import ClearpostError, Conflict, Forbidden, NotFound
from services.review.ui.upstream import MAX_FILE_BYTES, Upload, UserApi
from tests.unit import test_review_ui as base
from tests.unit.review_ui_fixtures import AUTHOR, COMPLIANCE, LEGAL, SAME_ORIGIN, FakeUserApi, Ui

ui = base.ui  # the same fixture: the review app on a real database, fakes behind the UI's interfaces

DIGEST = "ab" * 32
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def record(consent_id: str = "c-1", state: str = "active", **changes: Any) -> dict[str, Any]:
    return {
        "id": consent_id, "state": state, "name_use": "first_name", "story_use": True,
        "channels": ["sandbox"], "media_digests": [DIGEST], "collected_on": "2026-01-02",
        "expires_on": "2027-01-01", "revoked_at": None, "form_media_type": "application/pdf",
        "form_url": f"/api/v1/consents/{consent_id}/form", "patient_ref": "MRN-0042", "first_name": "Jane",
        "last_name": "Doe", "collected_by": "Casey Compliance", "recorded_by": "u-comp",
        "recorded_at": "2026-01-02T10:00:00+00:00", "revoked_by": None, "revoke_reason": "",
        "form_digest": "f" * 64, "form_size": len(PDF), **changes,
    }  # fmt: skip


def media_item(digest: str = DIGEST, **changes: Any) -> dict[str, Any]:
    return {
        "digest": digest, "media_type": "image/png", "width": 12, "height": 8, "size": 90,
        "faces": [[1, 1, 5, 5]], "staff_stock": False, "staff_stock_confirmed_by": None, "consent_id": None,
        "patient": True, "url": f"/api/v1/drafts/d-1/media/{digest}", **changes,
    }  # fmt: skip


@dataclass
class FakeDraftsApi(FakeUserApi):
    """The drafts API's consent and media routes, with the refusals the drafts service gives."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[tuple[dict[str, Any], Upload]] = field(default_factory=list)
    uploads: list[tuple[str, Upload, bool, str | None]] = field(default_factory=list)
    revised: list[dict[str, Any]] = field(default_factory=list)

    async def revise(self, token: str, draft_id: str, content: dict[str, Any]) -> dict[str, Any]:
        unknown = [c for c in content["consent_ids"] if c not in self.records]
        if unknown:
            raise ClearpostError(f"unknown consent record(s): {', '.join(unknown)}", code="unknown_consent")
        self.revised.append(content)
        return await super().revise(token, draft_id, content)

    async def consents(
        self, token: str, *, state: str | None = None, patient_ref: str | None = None
    ) -> list[dict[str, Any]]:
        self.calls.append(("consents", state or ""))
        return [
            r
            for r in self.records.values()
            if (state is None or r["state"] == state)
            and (patient_ref is None or r["patient_ref"] == patient_ref)
        ]

    async def consent(self, token: str, consent_id: str) -> dict[str, Any]:
        self.calls.append(("consent", consent_id))
        if consent_id not in self.records:
            raise NotFound(f"consent {consent_id} does not exist")
        return self.records[consent_id]

    async def create_consent(self, token: str, data: dict[str, Any], form: Upload) -> dict[str, Any]:
        if not form.data.startswith(b"%PDF-"):
            raise ClearpostError(
                "the signed form must be a PDF or a JPEG, PNG or WebP image (checked by content)",
                code="unsupported_media_type",
                status_code=415,
            )
        self.created.append((data, form))
        consent_id = f"c-new-{len(self.created)}"
        self.records[consent_id] = record(consent_id, **{k: v for k, v in data.items() if k in record()})
        return self.records[consent_id]

    async def revoke_consent(self, token: str, consent_id: str, reason: str) -> dict[str, Any]:
        current = await self.consent(token, consent_id)
        if current["state"] == "revoked":
            raise Conflict(f"consent {consent_id} is revoked already", code="already_revoked")
        self.calls.append(("revoke", reason))
        current.update(state="revoked", revoked_at="2026-02-01T09:00:00+00:00", revoked_by="u-comp")
        current["revoke_reason"] = reason
        effects = [
            {"draft_id": "d-1", "status_before": "in_review", "action": "sent_back_to_review", "detail": ""},
            {"draft_id": "d-9", "status_before": "published", "action": "takedown_required", "detail": ""},
        ]
        return {"consent": current, "effects": effects}

    def _editable(self, token_user: str, draft_id: str) -> dict[str, Any]:
        draft = self.drafts_by_id[draft_id]
        if draft["status"] not in ("draft", "changes_requested"):
            raise Conflict(f"a draft in status {draft['status']!r} cannot be changed", code="not_editable")
        return draft

    async def add_media(
        self, token: str, draft_id: str, upload: Upload, *, staff_stock: bool, consent_id: str | None
    ) -> dict[str, Any]:
        draft = self._editable(token, draft_id)
        if not upload.data.startswith(b"\x89PNG"):
            raise ClearpostError(
                "the file is not a JPEG, PNG or WebP image (checked by content, not by name)",
                code="unsupported_media_type",
                status_code=415,
            )
        self.uploads.append((draft_id, upload, staff_stock, consent_id))
        draft.setdefault("media", []).append(
            media_item("cd" * 32, staff_stock=staff_stock, consent_id=consent_id)
        )
        return draft

    async def update_media(
        self, token: str, draft_id: str, digest: str, patch: dict[str, Any]
    ) -> dict[str, Any]:
        self._editable(token, draft_id)
        self.calls.append(("update_media", json.dumps(patch, sort_keys=True)))
        return media_item(digest)

    async def remove_media(self, token: str, draft_id: str, digest: str) -> dict[str, Any]:
        draft = self._editable(token, draft_id)
        self.calls.append(("remove_media", digest))
        return draft

    async def confirm_staff_stock(self, token: str, draft_id: str, digest: str) -> dict[str, Any]:
        self.calls.append(("confirm_staff_stock", digest))
        return media_item(digest, staff_stock=True, staff_stock_confirmed_by="u-comp")


@pytest.fixture
def drafts(ui: Ui) -> FakeDraftsApi:
    fake = FakeDraftsApi(drafts_by_id=ui.user_api.drafts_by_id, versions_by_id=ui.user_api.versions_by_id)
    fake.records["c-1"] = record()
    ui.app.state.ui.user_api = fake
    ui.user_api = fake
    return fake


def editable(drafts: FakeDraftsApi, **changes: Any) -> dict[str, Any]:
    draft = drafts.drafts_by_id["d-1"]
    draft.update({"status": "draft", "consent_ids": ["c-1"], **changes})
    drafts.consents_by_draft["d-1"] = {"draft_id": "d-1", "consents": [record()], "missing": []}
    return draft


def consent_fields(**changes: str | list[str]) -> dict[str, Any]:
    return {
        "patient_ref": "MRN-0042", "first_name": "Jane", "last_name": "Doe", "name_use": "first_name",
        "story_use": "1", "channels": ["sandbox"], "media_digests": f"{DIGEST.upper()}\n",
        "collected_by": "Casey", "collected_on": "2026-01-02", "expires_on": "2027-01-01", **changes,
    }  # fmt: skip


async def post_form(ui: Ui, path: str, data: dict[str, Any], token_page: str, **files: Any) -> httpx.Response:
    token = await ui.csrf(token_page)
    return await ui.http.post(
        path, data={**data, "csrf_token": token}, files=files or None, headers=SAME_ORIGIN
    )


def field_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="text" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


# --- who sees consent records ----------------------------------------------------------------------


@pytest.mark.parametrize("who", [AUTHOR, LEGAL])
async def test_consent_pages_are_for_compliance_and_admins_only(
    ui: Ui, drafts: FakeDraftsApi, who: Any
) -> None:
    await ui.sign_in(who)
    token = await ui.csrf("/review/my")

    pages = [
        await ui.http.get(p) for p in ("/review/consents", "/review/consents/new", "/review/consents/c-1")
    ]
    posts = [
        await ui.http.post(
            "/review/consents",
            data={**consent_fields(), "csrf_token": token},
            files={"form": ("form.pdf", PDF, "application/pdf")},
            headers=SAME_ORIGIN,
        ),
        await ui.http.post(
            "/review/consents/c-1/revoke",
            data={"reason": "asked", "confirm": "1", "csrf_token": token},
            headers=SAME_ORIGIN,
        ),
    ]

    for response in pages + posts:
        assert response.status_code == 403
        assert "<h1>Not allowed</h1>" in response.text and "compliance staff and admins" in response.text
    assert 'href="/review/consents"' not in (await ui.http.get("/review/my")).text
    assert drafts.calls == [] and drafts.created == []
    assert drafts.records["c-1"]["state"] == "active"


async def test_compliance_lists_consents_with_state_scope_and_expiry(ui: Ui, drafts: FakeDraftsApi) -> None:
    drafts.records["c-2"] = record(
        "c-2", state="revoked", name_use="full_name", channels=["sandbox", "webhook"]
    )
    await ui.sign_in(COMPLIANCE)

    everything = await ui.http.get("/review/consents")
    revoked = await ui.http.get("/review/consents", params={"state": "revoked"})
    bad_filter = await ui.http.get("/review/consents", params={"state": "lost"})

    assert everything.status_code == 200
    assert '<a href="/review/consents">Consents</a>' in everything.text
    row = re.search(r'<tr data-consent-id="c-2">(.*?)</tr>', everything.text, re.S)
    assert row is not None
    assert "revoked" in row.group(1) and "full name" in row.group(1) and "sandbox, webhook" in row.group(1)
    assert "2027-01-01" in row.group(1) and "MRN-0042" in row.group(1)
    assert 'data-consent-id="c-1"' in everything.text
    assert 'data-consent-id="c-1"' not in revoked.text and 'data-consent-id="c-2"' in revoked.text
    assert ("consents", "revoked") in drafts.calls
    assert bad_filter.status_code == 422


async def test_the_patient_reference_filter_is_posted_never_put_in_a_url(
    ui: Ui, drafts: FakeDraftsApi
) -> None:
    drafts.records["c-2"] = record("c-2", patient_ref="MRN-0099")
    await ui.sign_in(COMPLIANCE)
    listing = await ui.http.get("/review/consents")
    token = await ui.csrf("/review/consents")

    found = await ui.http.post(
        "/review/consents/search",
        data={"patient_ref": " MRN-0099 ", "state": "", "csrf_token": token},
        headers=SAME_ORIGIN,
    )
    forged = await ui.http.post(
        "/review/consents/search",
        data={"patient_ref": "MRN-0099", "csrf_token": "guess"},
        headers=SAME_ORIGIN,
    )

    assert '<form method="post" action="/review/consents/search"' in listing.text
    assert found.status_code == 200, found.text
    assert 'data-consent-id="c-2"' in found.text and 'data-consent-id="c-1"' not in found.text
    assert 'value=" MRN-0099 "' in found.text  # the filter stays in the form, not in a link
    assert forged.status_code == 403


async def test_user_api_searches_consents_by_post() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"consents": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        api = UserApi(http, drafts_url="http://drafts", publisher_url="http://publisher")
        await api.consents("tok", state="active", patient_ref="MRN-0042")

    [search] = seen
    assert (search.method, search.url.path, search.url.query) == ("POST", "/api/v1/consents/search", b"")
    assert json.loads(search.content) == {"state": "active", "patient_ref": "MRN-0042"}
    assert "MRN-0042" not in str(search.url)


# --- a new record ------------------------------------------------------------------------------------


async def test_new_consent_form_offers_every_field(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)

    form = await ui.http.get("/review/consents/new")

    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.text and 'name="csrf_token"' in form.text
    for name in ("patient_ref", "first_name", "last_name", "media_digests", "collected_by", "collected_on",
                 "expires_on", "story_use", "form"):  # fmt: skip
        assert f'name="{name}"' in form.text, name
    for value in ("first_name", "full_name", "none"):
        assert f'name="name_use" value="{value}"' in form.text
    assert 'name="channels" value="sandbox"' in form.text  # the publisher's channels, to tick
    assert f"at most {MAX_FILE_BYTES // (1024 * 1024)} MB" in form.text
    labels = set(re.findall(r'<label for="([^"]+)"', form.text))
    inputs = set(re.findall(r'<(?:input|textarea|select) id="([^"]+)"', form.text))
    assert inputs <= labels  # every control has a visible label
    assert "<script" not in form.text and "style=" not in form.text


async def test_compliance_records_a_consent_with_its_signed_form(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await post_form(
        ui,
        "/review/consents",
        consent_fields(),
        "/review/consents/new",
        form=("signed.pdf", PDF, "application/pdf"),
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/review/consents/c-new-1?created=1"
    [(sent, upload)] = drafts.created
    assert sent == {
        "patient_ref": "MRN-0042", "first_name": "Jane", "last_name": "Doe", "name_use": "first_name",
        "story_use": True, "channels": ["sandbox"], "media_digests": [DIGEST], "collected_by": "Casey",
        "collected_on": "2026-01-02", "expires_on": "2027-01-01",
    }  # fmt: skip
    assert (upload.filename, upload.content_type, upload.data) == ("signed.pdf", "application/pdf", PDF)
    detail = await ui.http.get(response.headers["location"])
    assert detail.status_code == 200 and "Consent recorded." in detail.text
    assert "MRN-0042" in detail.text and "Jane Doe" in detail.text
    assert 'href="/review/consents/c-new-1/form"' in detail.text
    assert ("consent", "c-new-1") in drafts.calls  # the read the drafts service audits


async def test_a_refused_signed_form_is_explained_and_the_typed_values_kept(
    ui: Ui,
    drafts: FakeDraftsApi,
) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await post_form(
        ui,
        "/review/consents",
        consent_fields(patient_ref="MRN-<b>77</b>", name_use="full_name"),
        "/review/consents/new",
        form=("form.pdf", b"<html>not a pdf</html>", "application/pdf"),
    )

    assert response.status_code == 415
    assert "Nothing was recorded: the signed form must be a PDF" in response.text
    assert 'role="alert"' in response.text
    assert field_value(response.text, "patient_ref") == "MRN-&lt;b&gt;77&lt;/b&gt;"
    assert 'name="name_use" value="full_name" checked' in response.text
    assert 'name="channels" value="sandbox" checked' in response.text
    assert drafts.created == []


async def test_a_signed_form_over_the_limit_is_refused_before_the_drafts_api(
    ui: Ui,
    drafts: FakeDraftsApi,
) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await post_form(
        ui,
        "/review/consents",
        consent_fields(),
        "/review/consents/new",
        form=("big.pdf", PDF + b"0" * MAX_FILE_BYTES, "application/pdf"),
    )

    assert response.status_code == 413
    assert "larger than 10 MB" in response.text and field_value(response.text, "patient_ref") == "MRN-0042"
    assert drafts.created == []


@pytest.mark.parametrize(
    "headers", [{"Sec-Fetch-Site": "cross-site"}, {**SAME_ORIGIN, "Origin": "http://evil.example"}]
)
async def test_cross_site_consent_posts_are_refused(
    ui: Ui, drafts: FakeDraftsApi, headers: dict[str, str]
) -> None:
    await ui.sign_in(COMPLIANCE)
    token = await ui.csrf("/review/consents/new")

    response = await ui.http.post(
        "/review/consents",
        data={**consent_fields(), "csrf_token": token},
        files={"form": ("form.pdf", PDF, "application/pdf")},
        headers=headers,
    )

    assert response.status_code == 403 and "cross-site" in response.text.lower()
    assert drafts.created == []


async def test_consent_posts_without_the_sessions_token_are_refused(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)

    created = await ui.http.post(
        "/review/consents",
        data={**consent_fields(), "csrf_token": "guess"},
        files={"form": ("form.pdf", PDF, "application/pdf")},
        headers=SAME_ORIGIN,
    )
    revoked = await ui.http.post(
        "/review/consents/c-1/revoke", data={"reason": "asked", "confirm": "1"}, headers=SAME_ORIGIN
    )

    for response in (created, revoked):
        assert response.status_code == 403 and "security token" in response.text
    assert drafts.created == [] and drafts.records["c-1"]["state"] == "active"


# --- one record and revoking it ----------------------------------------------------------------------


async def test_revoking_needs_a_reason_and_a_confirmation(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)
    page = await ui.http.get("/review/consents/c-1")
    assert ">Revoke consent</button>" in page.text and 'name="confirm"' in page.text

    no_reason = await post_form(
        ui, "/review/consents/c-1/revoke", {"reason": " ", "confirm": "1"}, "/review/consents"
    )
    unconfirmed = await post_form(
        ui, "/review/consents/c-1/revoke", {"reason": "Patient asked"}, "/review/consents"
    )

    assert no_reason.status_code == 422 and "a reason is required" in no_reason.text
    assert unconfirmed.status_code == 422 and "your confirmation is required" in unconfirmed.text
    assert "Patient asked</textarea>" in unconfirmed.text
    assert ("revoke", "Patient asked") not in drafts.calls and drafts.records["c-1"]["state"] == "active"


async def test_revoking_shows_what_happened_to_each_draft(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)

    response = await post_form(
        ui, "/review/consents/c-1/revoke", {"reason": " Patient asked ", "confirm": "1"}, "/review/consents"
    )

    assert response.status_code == 200
    assert ("revoke", "Patient asked") in drafts.calls
    assert "Consent revoked." in response.text and "What the revocation did" in response.text
    assert 'href="/review/drafts/d-1"' in response.text and "Sent back to review" in response.text
    assert "takedown required" in response.text
    assert "“Patient asked”" in response.text and ">Revoke consent</button>" not in response.text

    again = await post_form(
        ui, "/review/consents/c-1/revoke", {"reason": "again", "confirm": "1"}, "/review/consents"
    )
    assert again.status_code == 409 and "revoked already" in again.text


async def test_an_unknown_consent_is_a_404_page(ui: Ui, drafts: FakeDraftsApi) -> None:
    await ui.sign_in(COMPLIANCE)
    response = await ui.http.get("/review/consents/nope")
    assert response.status_code == 404 and "consent nope does not exist" in response.text


# --- images on the draft page ------------------------------------------------------------------------


async def test_the_author_uploads_an_image_with_its_consent(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts)
    await ui.sign_in(AUTHOR)
    page = await ui.http.get("/review/drafts/d-1")
    assert 'action="/review/drafts/d-1/media#media" enctype="multipart/form-data"' in page.text
    assert 'accept="image/jpeg,image/png,image/webp"' in page.text

    response = await post_form(
        ui,
        "/review/drafts/d-1/media",
        {"staff_stock": "1", "consent_id": " c-1 "},
        "/review/drafts/d-1",
        file=("photo.png", png(), "image/png"),
    )

    assert response.status_code == 303 and response.headers["location"] == "/review/drafts/d-1#media"
    [(draft_id, upload, staff_stock, consent_id)] = drafts.uploads
    assert (draft_id, upload.data, staff_stock, consent_id) == ("d-1", png(), True, "c-1")
    after = await ui.http.get("/review/drafts/d-1")
    assert 'src="/review/drafts/d-1/media/' + "cd" * 32 + '"' in after.text
    assert "not yet confirmed by compliance" in after.text


async def test_an_upload_that_is_not_an_image_is_explained_on_the_draft_page(
    ui: Ui,
    drafts: FakeDraftsApi,
) -> None:
    editable(drafts)
    await ui.sign_in(AUTHOR)

    response = await post_form(
        ui,
        "/review/drafts/d-1/media",
        {"staff_stock": "1", "consent_id": "c-1"},
        "/review/drafts/d-1",
        file=("photo.jpg", b"<!doctype html><script>alert(1)</script>", "image/jpeg"),
    )

    assert response.status_code == 415
    error = re.search(
        r'<div class="notice error" role="alert" id="media-error">(.*?)</div>', response.text, re.S
    )
    assert error is not None and "not a JPEG, PNG or WebP image" in error.group(1)
    assert 'id="media-consent" name="consent_id" type="text" value="c-1"' in response.text
    assert 'name="staff_stock" value="1" checked> The new image' in response.text
    assert drafts.uploads == []


async def test_an_image_over_the_limit_never_reaches_the_drafts_api(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts)
    await ui.sign_in(AUTHOR)

    response = await post_form(
        ui,
        "/review/drafts/d-1/media",
        {},
        "/review/drafts/d-1",
        file=("huge.png", png() + b"\0" * MAX_FILE_BYTES, "image/png"),
    )

    assert response.status_code == 413 and "larger than 10 MB" in response.text
    assert drafts.uploads == []


async def test_no_image_forms_once_the_draft_is_in_review_and_a_late_post_is_refused(
    ui: Ui,
    drafts: FakeDraftsApi,
) -> None:
    editable(drafts, status="in_review", media=[media_item()])
    await ui.sign_in(AUTHOR)

    page = await ui.http.get("/review/drafts/d-1")
    response = await post_form(
        ui, "/review/drafts/d-1/media", {}, "/review/drafts/d-1", file=("p.png", png(), "image/png")
    )

    assert "Upload image" not in page.text and "Remove image" not in page.text
    assert response.status_code == 409 and "cannot be changed" in response.text
    assert drafts.uploads == []


async def test_the_author_marks_names_and_removes_an_image(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts, media=[media_item()])
    await ui.sign_in(AUTHOR)
    short = DIGEST[:12]

    marked = await post_form(
        ui,
        f"/review/drafts/d-1/media/{DIGEST}",
        {"staff_stock": "1", "consent_id": "c-1"},
        "/review/drafts/d-1",
    )
    cleared = await post_form(
        ui, f"/review/drafts/d-1/media/{DIGEST}", {"consent_id": ""}, "/review/drafts/d-1"
    )
    removed = await post_form(ui, f"/review/drafts/d-1/media/{DIGEST}/remove", {}, "/review/drafts/d-1")

    assert [r.status_code for r in (marked, cleared, removed)] == [303, 303, 303]
    assert [c for c in drafts.calls if c[0] in ("update_media", "remove_media")] == [
        ("update_media", json.dumps({"consent_id": "c-1", "staff_stock": True}, sort_keys=True)),
        ("update_media", json.dumps({"clear_consent": True, "staff_stock": False}, sort_keys=True)),
        ("remove_media", DIGEST),
    ]
    page = await ui.http.get("/review/drafts/d-1")
    assert f">Remove image {short}</button>" in page.text
    assert f'<label for="media-1-consent">Consent record id for image {short} (optional)</label>' in page.text
    assert "Confirm image" not in page.text  # the author never confirms their own staff/stock mark


async def test_compliance_confirms_a_staff_stock_mark(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts, status="in_review", media=[media_item(staff_stock=True)])
    await ui.sign_in(LEGAL)
    assert "Confirm image" not in (await ui.http.get("/review/drafts/d-1")).text
    await ui.sign_in(COMPLIANCE)
    page = await ui.http.get("/review/drafts/d-1")
    assert f">Confirm image {DIGEST[:12]} shows staff or is stock</button>" in page.text
    assert "Upload image" not in page.text  # only the author changes the images

    response = await post_form(
        ui, f"/review/drafts/d-1/media/{DIGEST}/confirm-staff-stock", {}, "/review/drafts/d-1"
    )

    assert response.status_code == 303
    assert ("confirm_staff_stock", DIGEST) in drafts.calls


async def test_the_draft_page_links_compliance_to_the_consent_record(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts, status="in_review")
    await ui.sign_in(COMPLIANCE)

    page = await ui.http.get("/review/drafts/d-1")

    assert '<a href="/review/consents/c-1"><code>c-1</code></a>' in page.text
    assert "first name only" in page.text


# --- the consents a draft relies on ----------------------------------------------------------------


async def test_the_author_saves_consent_ids_without_submitting(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts, consent_ids=[])
    await ui.sign_in(AUTHOR)
    page = await ui.http.get("/review/drafts/d-1")
    assert ">Save without submitting</button>" in page.text

    response = await post_form(
        ui,
        "/review/drafts/d-1/versions",
        {"title": "T", "body": "B", "channels": "sandbox", "consent_ids": "c-1", "action": "save"},
        "/review/drafts/d-1",
    )

    assert response.status_code == 303
    assert [c["consent_ids"] for c in drafts.revised] == [["c-1"]]
    assert ("submit", "d-1") not in drafts.calls


async def test_an_unknown_consent_id_is_explained_and_the_edit_kept(ui: Ui, drafts: FakeDraftsApi) -> None:
    editable(drafts, consent_ids=[])
    await ui.sign_in(AUTHOR)

    response = await post_form(
        ui,
        "/review/drafts/d-1/versions",
        {
            "title": "New title",
            "body": "New <em>body</em>",
            "channels": "sandbox",
            "consent_ids": "c-1, c-404",
        },
        "/review/drafts/d-1",
    )

    assert response.status_code == 400
    assert "Nothing was saved: unknown consent record(s): c-404" in response.text
    assert (
        'value="New title"' in response.text and "New &lt;em&gt;body&lt;/em&gt;</textarea>" in response.text
    )
    assert 'name="consent_ids" type="text" value="c-1, c-404"' in response.text
    assert drafts.revised == [] and ("submit", "d-1") not in drafts.calls


# --- the calls the UI makes to the drafts API ---------------------------------------------------------


async def test_user_api_sends_consents_and_images_as_the_drafts_api_takes_them() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/media") and b"not-an-image" in request.content:
            return httpx.Response(415, json={"error": "unsupported_media_type", "detail": "not an image"})
        return httpx.Response(200, json={"id": "c-9", "consent": {}, "effects": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        api = UserApi(http, drafts_url="http://drafts", publisher_url="http://publisher")
        await api.create_consent(
            "tok", {"patient_ref": "MRN-1", "channels": ["sandbox"]}, Upload("f.pdf", "application/pdf", PDF)
        )
        await api.add_media(
            "tok", "d 1", Upload("p.png", "image/png", png()), staff_stock=True, consent_id="c-9"
        )
        await api.update_media("tok", "d-1", DIGEST, {"clear_consent": True, "staff_stock": False})
        await api.revoke_consent("tok", "c/9", "asked")
        with pytest.raises(ClearpostError) as refused:
            await api.add_media(
                "tok",
                "d-1",
                Upload("x.jpg", "image/jpeg", b"not-an-image"),
                staff_stock=False,
                consent_id=None,
            )

    create, upload, patch, revoke, _ = seen
    assert all(r.headers["authorization"] == "Bearer tok" for r in seen)
    assert (create.method, create.url.path) == ("POST", "/api/v1/consents")
    assert create.headers["content-type"].startswith("multipart/form-data")
    assert (
        b'name="record"' in create.content
        and b'{"patient_ref": "MRN-1", "channels": ["sandbox"]}' in create.content
    )
    assert b'name="form"; filename="f.pdf"' in create.content and PDF in create.content
    assert (upload.method, upload.url.raw_path) == ("POST", b"/api/v1/drafts/d%201/media")
    assert (
        b'name="staff_stock"\r\n\r\ntrue' in upload.content
        and b'name="consent_id"\r\n\r\nc-9' in upload.content
    )
    assert (patch.method, patch.url.path) == ("PATCH", f"/api/v1/drafts/d-1/media/{DIGEST}")
    assert json.loads(patch.content) == {"clear_consent": True, "staff_stock": False}
    assert (revoke.method, revoke.url.raw_path) == ("POST", b"/api/v1/consents/c%2F9/revoke")
    assert json.loads(revoke.content) == {"reason": "asked"}
    assert (refused.value.status_code, refused.value.code, refused.value.detail) == (
        415, "unsupported_media_type", "not an image",
    )  # fmt: skip


def test_the_ui_file_limit_fits_the_multipart_body_limit() -> None:
    from services.kit.limits import MAX_UPLOAD_BYTES

    assert MAX_FILE_BYTES < MAX_UPLOAD_BYTES


async def test_forbidden_by_the_drafts_api_is_shown_even_if_the_ui_let_it_through(
    ui: Ui,
    drafts: FakeDraftsApi,
) -> None:
    editable(drafts)

    async def refuse(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise Forbidden("only the draft's author may change it")

    drafts.remove_media = refuse  # type: ignore[method-assign]
    await ui.sign_in(AUTHOR)

    response = await post_form(ui, f"/review/drafts/d-1/media/{DIGEST}/remove", {}, "/review/drafts/d-1")

    assert (
        response.status_code == 403 and "Not done: only the draft&#39;s author may change it" in response.text
    )


async def test_a_cross_site_post_is_refused_before_the_session_is_looked_at(
    ui: Ui, drafts: FakeDraftsApi
) -> None:
    response = await ui.http.post(
        "/review/consents/c-1/revoke",
        data={"reason": "forged", "confirm": "1", "csrf_token": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403 and "cross-site" in response.text.lower()
    assert drafts.records["c-1"]["state"] == "active"
