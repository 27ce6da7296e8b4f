"""Consent records, media uploads, the consent gate activity and revocation, through the drafts API."""

from __future__ import annotations

import asyncio
import base64
import importlib
import io
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from PIL import Image
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from services.drafts.cli import consents_app
from services.drafts.consents import ConsentService
from services.drafts.main import app as drafts_app
from services.drafts.models import Consent
from services.drafts.sealing import FieldSealer
from services.kit.auth import INTERNAL_HEADER, StaticKeySet
from services.kit.canonical import content_hash
from services.kit.db import session_scope
from services.kit.sealing import KeyRing, key_id
from services.kit.telemetry import configure_logging, setup_tracing
from services.kit.tokens import load_or_create_signing_key
from tests.database import DatabaseFactory
from tests.unit.consent_fixtures import (
    COMPLIANCE,
    INTERNAL_TOKEN,
    LEGAL,
    OTHER_AUTHOR,
    PDF,
    STORY,
    Api,
    FakeTemporal,
    record,
)
from tests.unit.drafts_fixtures import FakeChannels, RecordingAudit
from tests.unit.media_fixtures import FACE, jpeg_with_exif
from workflows.contracts import CONSENT_REVOKED_SIGNAL, ConsentCheckInput, ConsentRevoked

EXECUTABLE = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"


@pytest.fixture
async def api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> AsyncIterator[Api]:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "false")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    for name, value in database("drafts").settings_env().items():
        monkeypatch.setenv(name, value)
    async with drafts_app.router.lifespan_context(drafts_app):
        key = load_or_create_signing_key(tmp_path / "k.pem")
        audit, temporal = RecordingAudit(), FakeTemporal()
        drafts_app.state.key_set = StaticKeySet({key.kid: key.public_jwk})
        drafts_app.state.audit = audit
        drafts_app.state.channels = FakeChannels(configured={"sandbox", "facebook"})
        drafts_app.state.temporal = temporal
        transport = httpx.ASGITransport(app=drafts_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(drafts_app, http, key, audit, temporal, tmp_path)


# --- consent records ----------------------------------------------------------------------------


async def test_compliance_records_a_consent_and_the_patient_is_encrypted_at_rest(api: Api) -> None:
    response = await api.consent()

    assert response.status_code == 201, response.text
    consent = response.json()
    assert (consent["state"], consent["name_use"], consent["first_name"], consent["patient_ref"]) == (
        "active", "first_name", "Maria", "MRN-0042"
    )  # fmt: skip
    assert consent["form_media_type"] == "application/pdf" and consent["recorded_by"] == COMPLIANCE
    async with api.app.state.sessionmaker() as session:
        row = (await session.execute(select(Consent))).scalar_one()
    for secret in (b"Maria", b"Lopez", b"MRN-0042", b"%PDF"):
        assert secret not in row.sealed_identity and secret not in row.form_sealed
    created = api.audit.events[-1]
    assert (created["action"], created["subject"]) == ("consent.created", f"consent:{consent['id']}")
    assert "Maria" not in json.dumps(created) and "MRN" not in json.dumps(created)


@pytest.mark.parametrize("roles", [("author",), ("legal",), ("medical",), ("publisher",), ("auditor",)])
async def test_only_compliance_and_admins_touch_consent_records(api: Api, roles: tuple[str, ...]) -> None:
    consent_id = await api.consent_id()
    headers = api.headers(*roles, user_id="someone")
    before = len(api.audit.events)

    answers = [
        await api.http.post(
            "/api/v1/consents",
            data={"record": json.dumps(record())},
            files={"form": ("f.pdf", PDF)},
            headers=headers,
        ),
        await api.http.get(f"/api/v1/consents/{consent_id}", headers=headers),
        await api.http.get("/api/v1/consents", headers=headers),
        await api.http.get(f"/api/v1/consents/{consent_id}/form", headers=headers),
        await api.http.post(f"/api/v1/consents/{consent_id}/revoke", json={"reason": "x"}, headers=headers),
    ]

    assert [a.status_code for a in answers] == [403] * 5
    assert len(api.audit.events) == before
    admin = await api.http.get(f"/api/v1/consents/{consent_id}", headers=api.headers("admin", user_id="adm"))
    assert admin.status_code == 200


async def test_every_read_of_a_consent_is_audited(api: Api) -> None:
    consent_id = await api.consent_id()

    one = await api.http.get(f"/api/v1/consents/{consent_id}", headers=api.compliance)
    listed = await api.http.get(
        "/api/v1/consents", params={"patient_ref": " mrn-0042 "}, headers=api.compliance
    )
    none = await api.http.get("/api/v1/consents", params={"patient_ref": "MRN-9"}, headers=api.compliance)
    form = await api.http.get(f"/api/v1/consents/{consent_id}/form", headers=api.compliance)

    assert one.status_code == 200 and one.json()["last_name"] == "Lopez"
    assert [c["id"] for c in listed.json()["consents"]] == [consent_id] and none.json()["consents"] == []
    assert form.content == PDF and form.headers["content-type"] == "application/pdf"
    assert form.headers["content-disposition"].startswith("attachment;")
    assert form.headers["x-content-type-options"] == "nosniff"
    reads = [(e["action"], e["subject"]) for e in api.audit.events[1:]]
    assert reads == [
        ("consent.read", f"consent:{consent_id}"),
        ("consent.listed", "consents"),
        ("consent.listed", "consents"),
        ("consent.form_read", f"consent:{consent_id}"),
    ]
    assert api.audit.events[2]["details"]["consent_ids"] == [consent_id]
    assert all(e["actor"] == COMPLIANCE for e in api.audit.events)


@pytest.mark.parametrize(
    "form", [EXECUTABLE, HTML, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", b"%PDF-1.4 no end"]
)
async def test_a_signed_form_must_be_a_pdf_or_an_image_by_content(api: Api, form: bytes) -> None:
    response = await api.consent(form=form)

    assert response.status_code == 415, response.text
    assert response.json()["error"] == "unsupported_media_type"


async def test_an_image_form_is_stored_without_its_metadata(api: Api) -> None:
    consent_id = await api.consent_id(form=jpeg_with_exif())

    form = await api.http.get(f"/api/v1/consents/{consent_id}/form", headers=api.compliance)

    assert form.headers["content-type"] == "image/jpeg"
    assert b"Jane Patient" not in form.content and b"Exif" not in form.content


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"expires_on": "2025-01-01"}, 422),
        ({"name_use": "nickname"}, 422),
        ({"media_digests": ["not-a-digest"]}, 422),
        ({"channels": ["myspace"]}, 400),
    ],
)
async def test_bad_consent_records_are_refused(api: Api, overrides: dict[str, Any], status: int) -> None:
    response = await api.consent(**overrides)

    assert response.status_code == status, response.text


async def test_state_is_computed_from_the_expiry_date_and_filters_the_list(api: Api) -> None:
    expired = await api.consent_id(collected_on="2024-01-01", expires_on="2024-12-31")
    active = await api.consent_id()

    got = await api.http.get(f"/api/v1/consents/{expired}", headers=api.compliance)
    listed = await api.http.get("/api/v1/consents", params={"state": "active"}, headers=api.compliance)

    assert got.json()["state"] == "expired"
    assert [c["id"] for c in listed.json()["consents"]] == [active]


async def test_consents_are_searched_by_post_with_the_same_filters(api: Api) -> None:
    consent_id = await api.consent_id()

    found = await api.http.post(
        "/api/v1/consents/search",
        json={"patient_ref": " mrn-0042 ", "state": "active"},
        headers=api.compliance,
    )
    none = await api.http.post(
        "/api/v1/consents/search", json={"patient_ref": "MRN-9"}, headers=api.compliance
    )
    author = await api.http.post("/api/v1/consents/search", json={}, headers=api.headers("author"))

    assert found.status_code == 200, found.text
    assert [c["id"] for c in found.json()["consents"]] == [consent_id] and none.json()["consents"] == []
    assert author.status_code == 403
    listed = [e for e in api.audit.events if e["action"] == "consent.listed"]
    assert [e["details"]["filters"]["patient_ref"] for e in listed] == [True, True]
    assert "MRN" not in json.dumps(listed)


async def test_a_patient_reference_reaches_no_access_log_line_or_span(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """Served by uvicorn itself (its access log is the one written in production), traced by the
    process's own tracer provider, logged through the process's own logging setup."""
    consent_id = await api.consent_id()
    spans = InMemorySpanExporter()
    setup_tracing("drafts", extra_processor=SimpleSpanProcessor(spans))
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(logger.handlers[:], logger.level, logger.propagate, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.disabled = False  # whatever an earlier test's library did to the process's loggers
    configure_logging("drafts")
    config = uvicorn.Config(api.app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    listening = socket.create_server(("127.0.0.1", 0))  # connections wait in its backlog until served
    port = listening.getsockname()[1]
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=api.compliance) as http:
            by_get = await http.get("/api/v1/consents", params={"state": "active", "patient_ref": "MRN-0042"})
            by_post = await http.post("/api/v1/consents/search", json={"patient_ref": "MRN-0042"})
    finally:
        server.should_exit = True
        await serving
        listening.close()
        for logger, (handlers, level, propagate, disabled) in zip(loggers, saved, strict=True):
            logger.handlers[:], logger.propagate, logger.disabled = handlers, propagate, disabled
            logger.setLevel(level)
        spans.shutdown()

    assert [c["id"] for c in by_get.json()["consents"]] == [consent_id]
    assert [c["id"] for c in by_post.json()["consents"]] == [consent_id]
    logged = capsys.readouterr().err
    assert "/api/v1/consents?state=active&patient_ref=REDACTED" in logged  # the access log line
    assert "/api/v1/consents/search" in logged
    assert "MRN-0042" not in logged
    finished = spans.get_finished_spans()
    attributes = [dict(span.attributes or {}) for span in finished]
    served = [a for a in attributes if "/api/v1/consents" in str(a.get("http.target", a.get("url.path", "")))]
    assert served and any("patient_ref=REDACTED" in str(a) for a in served)
    assert "MRN-0042" not in repr(attributes)


# --- rotating the consent key ------------------------------------------------------------------


async def test_after_a_key_rotation_rekey_reseals_every_record_and_search_finds_them_again(api: Api) -> None:
    consent_id = await api.consent_id()
    old_key = base64.b64decode((api.var_dir / "keys" / "drafts" / "consent.key").read_text())
    new_key = bytes(range(32))

    async def found_by_reference() -> list[str]:
        listed = await api.http.get(
            "/api/v1/consents", params={"patient_ref": "MRN-0042"}, headers=api.compliance
        )
        assert listed.status_code == 200, listed.text
        return [c["id"] for c in listed.json()["consents"]]

    # Rotated: the new key seals, the old one still opens; the lookup index is the old key's.
    api.app.state.sealer = FieldSealer(KeyRing(new_key, previous=[old_key]))  # the app's next start resets it
    assert (await api.http.get(f"/api/v1/consents/{consent_id}", headers=api.compliance)).status_code == 200
    assert await found_by_reference() == []

    async with session_scope(api.app.state.sessionmaker) as session:
        count = await ConsentService(session, audit=api.audit, sealer=api.app.state.sealer).rekey(
            actor="operator:test"
        )

    assert count == 1
    assert api.audit.events[-1]["action"] == "consents.rekeyed"
    assert api.audit.events[-1]["details"] == {"records": 1, "key_id": key_id(new_key)}
    api.app.state.sealer = FieldSealer(KeyRing(new_key))  # the old key dropped
    record = await api.http.get(f"/api/v1/consents/{consent_id}", headers=api.compliance)
    assert record.status_code == 200 and record.json()["patient_ref"] == "MRN-0042"
    form = await api.http.get(f"/api/v1/consents/{consent_id}/form", headers=api.compliance)
    assert form.status_code == 200 and form.content.startswith(b"%PDF")
    assert await found_by_reference() == [consent_id]


def test_the_rekey_command_changes_nothing_when_the_audit_log_cannot_record_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: DatabaseFactory
) -> None:
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", INTERNAL_TOKEN)
    monkeypatch.setenv("CLEARPOST_AUDIT_URL", "http://127.0.0.1:9")  # nothing listens there
    for name, value in database("drafts").settings_env().items():
        monkeypatch.setenv(name, value)

    refused = CliRunner().invoke(consents_app, ["rekey"])

    assert refused.exit_code == 1 and "Nothing was changed" in refused.output


# --- drafts name consents -----------------------------------------------------------------------


async def test_a_draft_names_consents_and_the_old_single_field_still_works(api: Api) -> None:
    first, second = await api.consent_id(), await api.consent_id()

    both = await api.draft(consent_ids=[first], consent_id=second)
    unknown = await api.http.post(
        "/api/v1/drafts", json={**STORY, "consent_ids": ["nope"]}, headers=api.headers("author")
    )

    assert both["consent_ids"] == [second, first] and both["consent_id"] == second
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_consent"


async def test_a_drafts_readers_see_the_scope_of_its_consents_without_the_patient(api: Api) -> None:
    consent_id = await api.consent_id()
    draft = await api.draft(consent_ids=[consent_id])

    scope = await api.http.get(
        f"/api/v1/drafts/{draft['id']}/consents", headers=api.headers("legal", user_id=LEGAL)
    )
    stranger = await api.http.get(
        f"/api/v1/drafts/{draft['id']}/consents", headers=api.headers("author", user_id=OTHER_AUTHOR)
    )

    assert scope.status_code == 200
    (shown,) = scope.json()["consents"]
    assert (shown["id"], shown["state"], shown["channels"]) == (consent_id, "active", ["sandbox"])
    assert "Maria" not in scope.text and "MRN" not in scope.text
    assert stranger.status_code == 403
    assert api.audit.events[-1]["action"] == "consent.read" and api.audit.events[-1]["actor"] == LEGAL


async def test_the_internal_version_says_whether_consent_is_on_file(api: Api) -> None:
    consent_id = await api.consent_id()
    draft = await api.draft(consent_ids=[consent_id])
    internal = {INTERNAL_HEADER: INTERNAL_TOKEN}
    url = f"/internal/v1/drafts/{draft['id']}/versions/1"

    before = (await api.http.get(url, headers=internal)).json()
    await api.http.post(
        f"/api/v1/consents/{consent_id}/revoke", json={"reason": "asked"}, headers=api.compliance
    )
    after = (await api.http.get(url, headers=internal)).json()

    assert (before["consent_ids"], before["consent_id"], before["consent_on_file"]) == (
        [consent_id],
        consent_id,
        True,
    )
    assert after["consent_on_file"] is False


# --- media --------------------------------------------------------------------------------------


async def test_an_upload_with_gps_exif_is_stored_and_served_without_it(api: Api) -> None:
    draft = await api.draft(patient_content=False)
    raw = jpeg_with_exif()

    response = await api.upload(draft["id"], raw)

    assert response.status_code == 201, response.text
    updated = response.json()
    (item,) = updated["media"]
    digest = item["digest"]
    assert updated["version"] == 2 and (item["faces"], item["patient"]) == ([], False)
    assert updated["content_hash"] == content_hash(
        title=STORY["title"], body=STORY["body"], channels=["sandbox"], media_digests=[digest]
    )
    assert updated["content_hash"] != draft["content_hash"]
    served = await api.http.get(f"/api/v1/drafts/{draft['id']}/media/{digest}", headers=api.headers("legal"))
    stored = (api.var_dir / "media" / digest).read_bytes()
    for data in (served.content, stored):
        assert b"Jane Patient" not in data and b"CameraCo" not in data and b"Exif" not in data
        assert not Image.open(io.BytesIO(data)).getexif()
    assert served.headers["content-type"] == "image/jpeg"
    assert [e["action"] for e in api.audit.events[-2:]] == ["draft.media_added", "media.read"]


async def test_an_image_read_is_audited_by_its_reader(api: Api) -> None:
    draft = await api.draft(patient_content=False)
    digest = (await api.upload(draft["id"], jpeg_with_exif())).json()["media"][0]["digest"]

    served = await api.http.get(
        f"/api/v1/drafts/{draft['id']}/media/{digest}", headers=api.headers("legal", user_id=LEGAL)
    )

    assert served.status_code == 200
    read = api.audit.events[-1]
    assert (read["action"], read["actor"], read["subject"]) == ("media.read", LEGAL, f"draft:{draft['id']}")
    assert read["details"] == {"digest": digest}


@pytest.mark.parametrize("raw", [EXECUTABLE, HTML], ids=["executable", "html"])
async def test_a_jpg_that_is_not_an_image_is_refused(api: Api, raw: bytes) -> None:
    draft = await api.draft()

    response = await api.upload(draft["id"], raw, name="holiday.jpg")

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert not any((api.var_dir / "media").iterdir())
    current = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.headers("author"))
    assert current.json()["version"] == 1


async def test_an_upload_over_the_limit_is_413(api: Api) -> None:
    draft = await api.draft()

    response = await api.upload(draft["id"], b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024))

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("module", "function", "kind"),
    [
        ("services.drafts.draft_media", "sanitize_image", "media"),
        ("services.drafts.draft_media", "detect_faces", "media"),
        ("services.drafts.consents", "sanitize_image", "form"),
    ],
)
async def test_image_work_runs_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch, module: str, function: str, kind: str
) -> None:
    """While one upload's image is decoded (or re-encoded, or searched for faces), the service
    answers another request: the image work is held until that answer has arrived."""
    draft = await api.draft(patient_content=False)
    working, answered = threading.Event(), threading.Event()
    overlapped: list[bool] = []
    real = getattr(importlib.import_module(module), function)

    def held(*args: Any, **kwargs: Any) -> Any:
        working.set()
        # On the event loop this wait blocks the very request that would set it: it times out.
        overlapped.append(answered.wait(timeout=10))
        return real(*args, **kwargs)

    monkeypatch.setattr(f"{module}.{function}", held)
    if kind == "media":
        upload = asyncio.create_task(api.upload(draft["id"], FACE.read_bytes()))
    else:
        upload = asyncio.create_task(api.consent(form=jpeg_with_exif()))
    assert await asyncio.to_thread(working.wait, 10)

    other = await api.http.get(f"/api/v1/drafts/{draft['id']}", headers=api.headers("author"))
    answered.set()
    uploaded = await upload

    assert other.status_code == 200
    assert uploaded.status_code == 201, uploaded.text
    assert overlapped == [True]


async def test_a_face_counts_as_patient_content_until_compliance_confirms_staff(api: Api) -> None:
    draft = await api.draft(patient_content=False)

    uploaded = (await api.upload(draft["id"], FACE.read_bytes(), staff_stock="true")).json()
    (item,) = uploaded["media"]
    digest = item["digest"]
    url = f"/api/v1/drafts/{draft['id']}/media/{digest}/confirm-staff-stock"
    own = await api.http.post(url, headers=api.headers("author", "compliance"))
    legal = await api.http.post(url, headers=api.headers("legal", user_id=LEGAL))
    confirmed = await api.http.post(url, headers=api.compliance)

    assert len(item["faces"]) >= 1 and item["staff_stock"] is True and item["patient"] is True
    assert (own.status_code, legal.status_code) == (403, 403)
    assert confirmed.status_code == 200 and confirmed.json()["patient"] is False
    unmarked = await api.http.patch(
        f"/api/v1/drafts/{draft['id']}/media/{digest}",
        json={"staff_stock": False},
        headers=api.headers("author"),
    )
    assert unmarked.json()["patient"] is True and unmarked.json()["staff_stock_confirmed_by"] is None


async def test_removing_an_image_makes_a_new_version_and_revisions_keep_images(api: Api) -> None:
    draft = await api.draft()
    digest = (await api.upload(draft["id"], jpeg_with_exif())).json()["media"][0]["digest"]

    revised = await api.http.put(
        f"/api/v1/drafts/{draft['id']}", json={**STORY, "body": "New text."}, headers=api.headers("author")
    )
    removed = await api.http.delete(
        f"/api/v1/drafts/{draft['id']}/media/{digest}", headers=api.headers("author")
    )

    assert [m["digest"] for m in revised.json()["media"]] == [digest]
    assert removed.status_code == 200 and removed.json()["version"] == 4 and removed.json()["media"] == []
    assert removed.json()["content_hash"] == content_hash(
        title=STORY["title"], body="New text.", channels=["sandbox"], media_digests=[]
    )


async def test_only_the_author_adds_media_and_only_while_editable(api: Api) -> None:
    draft = await api.draft()

    other = await api.http.post(
        f"/api/v1/drafts/{draft['id']}/media",
        files={"file": ("p.jpg", jpeg_with_exif())},
        headers=api.headers("author", user_id=OTHER_AUTHOR),
    )
    await api.project(draft["id"], "in_review")
    locked = await api.upload(draft["id"], jpeg_with_exif())

    assert other.status_code == 403
    assert locked.status_code == 409 and locked.json()["error"] == "not_editable"


# --- the consent gate ---------------------------------------------------------------------------


async def test_the_gate_activity_checks_the_stored_version(api: Api) -> None:
    draft = await api.draft()
    uploaded = (await api.upload(draft["id"], FACE.read_bytes())).json()
    digest = uploaded["media"][0]["digest"]
    covering = await api.consent_id(media_digests=[digest])
    text_only = await api.consent_id()
    revised = await api.http.put(
        f"/api/v1/drafts/{draft['id']}",
        json={**STORY, "consent_ids": [text_only]},
        headers=api.headers("author"),
    )
    at = datetime.now(UTC).isoformat()

    def check(version: int, hash_: str, **extra: Any) -> ConsentCheckInput:
        return ConsentCheckInput(draft["id"], version, hash_, ["sandbox"], at, **extra)

    photo_missing = await api.gate().check_consent(
        check(3, revised.json()["content_hash"], patient_content=True)
    )
    await api.http.patch(
        f"/api/v1/drafts/{draft['id']}/media/{digest}",
        json={"consent_id": covering},
        headers=api.headers("author"),
    )
    covered = await api.gate().check_consent(check(3, revised.json()["content_hash"], patient_content=True))
    other_channel = await api.gate().check_consent(
        ConsentCheckInput(draft["id"], 3, revised.json()["content_hash"], ["facebook"], at)
    )

    assert (photo_missing.ok, photo_missing.required) == (False, True)
    assert photo_missing.reasons == [f"photo {digest[:12]} shows a face and no valid consent covers it"]
    assert (covered.ok, covered.reasons, covered.consent_ids) == (True, [], [text_only, covering])
    assert other_channel.reasons == [
        f"consent {text_only} does not cover channel facebook",
        f"consent {covering} does not cover channel facebook",
    ]
    with pytest.raises(ApplicationError) as refused:
        await api.gate().check_consent(check(3, "0" * 64))
    assert refused.value.type == "ContentMismatch" and refused.value.non_retryable


# --- revocation ---------------------------------------------------------------------------------


async def test_revoking_withdraws_unsubmitted_drafts_signals_running_ones_and_flags_published(
    api: Api,
) -> None:
    consent_id = await api.consent_id()
    unsubmitted = await api.draft(consent_ids=[consent_id])
    in_review = await api.draft(consent_ids=[consent_id])
    published = await api.draft(consent_ids=[consent_id])
    unrelated = await api.draft(patient_content=False)
    await api.project(in_review["id"], "in_review")
    await api.project(published["id"], "published")

    response = await api.http.post(
        f"/api/v1/consents/{consent_id}/revoke", json={"reason": "patient withdrew"}, headers=api.compliance
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["consent"]["state"] == "revoked" and body["consent"]["revoke_reason"] == "patient withdrew"
    effects = {e["draft_id"]: (e["status_before"], e["action"]) for e in body["effects"]}
    assert effects == {
        unsubmitted["id"]: ("draft", "withdrawn"),
        in_review["id"]: ("in_review", "sent_back_to_review"),
        published["id"]: ("published", "takedown_required"),
    }
    assert unrelated["id"] not in effects
    ((workflow_id, name, signal),) = api.temporal.sent
    assert (workflow_id, name) == (f"draft-{in_review['id']}", CONSENT_REVOKED_SIGNAL)
    assert isinstance(signal, ConsentRevoked)
    assert (signal.consent_id, signal.reason, signal.revoked_by) == (
        consent_id,
        "patient withdrew",
        COMPLIANCE,
    )
    author = api.headers("author")
    statuses = [
        (await api.http.get(f"/api/v1/drafts/{d['id']}", headers=author)).json()["status"]
        for d in (unsubmitted, published)
    ]
    assert statuses == ["withdrawn", "takedown_required"]
    actions = [e["action"] for e in api.audit.events]
    assert {"draft.withdrawn", "draft.consent_revoked", "post.takedown_required", "consent.revoked"} <= set(
        actions
    )

    tasks = await api.http.get(
        "/api/v1/takedowns", params={"status": "open"}, headers=api.headers("publisher")
    )
    (task,) = tasks.json()["takedowns"]
    assert (task["draft_id"], task["consent_id"], task["status"]) == (published["id"], consent_id, "open")
    assert (await api.http.get("/api/v1/takedowns", headers=author)).status_code == 403
    done = await api.http.post(
        f"/api/v1/takedowns/{task['id']}/complete",
        json={"note": "deleted by hand"},
        headers=api.headers("publisher"),
    )
    assert done.json()["status"] == "done" and api.audit.events[-1]["action"] == "post.taken_down"

    again = await api.http.post(
        f"/api/v1/consents/{consent_id}/revoke", json={"reason": "x"}, headers=api.compliance
    )
    assert again.status_code == 409 and again.json()["error"] == "already_revoked"


async def test_revocation_reaches_drafts_through_their_media_consent(api: Api) -> None:
    draft = await api.draft(patient_content=False)
    digest = (await api.upload(draft["id"], FACE.read_bytes())).json()["media"][0]["digest"]
    consent_id = await api.consent_id(media_digests=[digest])
    await api.http.patch(
        f"/api/v1/drafts/{draft['id']}/media/{digest}",
        json={"consent_id": consent_id},
        headers=api.headers("author"),
    )

    response = await api.http.post(
        f"/api/v1/consents/{consent_id}/revoke", json={"reason": "photo withdrawn"}, headers=api.compliance
    )

    assert [(e["draft_id"], e["action"]) for e in response.json()["effects"]] == [(draft["id"], "withdrawn")]


def test_the_migration_moves_each_versions_single_consent_into_its_list(tmp_path: Path) -> None:
    import sqlite3

    from alembic import command

    from services.kit.db import alembic_config

    path = tmp_path / "drafts.db"
    config = alembic_config("drafts", f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0001_drafts")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO drafts VALUES ('d-1', 'a', 'A', 'draft', 2, '[]', 0, '', '2026-01-01', '2026-01-01')"
        )
        for version, consent in ((1, None), (2, "c-7")):
            db.execute(
                "INSERT INTO draft_versions (draft_id, version, title, body, channels, patient_content,"
                " consent_id, media_digests, content_hash, created_by, created_at)"
                " VALUES ('d-1', ?, 't', 'b', '[\"sandbox\"]', 1, ?, '[]', 'h', 'a', '2026-01-01')",
                (version, consent),
            )

    command.upgrade(config, "head")

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT version, consent_ids FROM draft_versions ORDER BY version").fetchall()
        links = db.execute("SELECT draft_id, version, consent_id FROM version_consents").fetchall()
    assert [(v, json.loads(ids)) for v, ids in rows] == [(1, []), (2, ["c-7"])]
    assert links == [("d-1", 2, "c-7")]

    command.downgrade(config, "0001_drafts")

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT consent_id FROM draft_versions ORDER BY version").fetchall() == [
            (None,),
            ("c-7",),
        ]
