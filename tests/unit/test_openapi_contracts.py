"""Each service's OpenAPI document says what the service accepts: a request the schema allows is
not refused as malformed, and what it forbids is refused (tests/e2e/test_schemathesis.py fuzzes
the same with no allowlist). These pin the rules a schema once left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from services.audit.main import app as audit_asgi_app
from services.drafts.main import app as drafts_asgi_app
from services.gateway.main import app as gateway_asgi_app
from services.review.main import app as review_asgi_app
from services.review.schemas import OverrideByIndex, OverrideByRule, OverrideIn
from tests.unit.audit_fixtures import AuditApp, audit_app
from tests.unit.drafts_fixtures import DRAFT, DraftsApi, api

__all__ = ["api", "audit_app"]

CONTENT_HASH = "ab" * 32


def body_schema(
    app: FastAPI, method: str, path: str, media: str = "application/json"
) -> Draft202012Validator:
    """A validator for the documented request body of one operation ($refs resolved in the document)."""
    document = app.openapi()
    schema = document["paths"][path][method]["requestBody"]["content"][media]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


# --- gateway: the token endpoint's form names each grant's parameters (RFC 6749) -----------------


PASSWORD = {"username": "someone@example.org", "password": "not-the-password"}
REFRESH = {"grant_type": "refresh_token", "refresh_token": "not-a-refresh-token"}
MISSING = [
    ({"username": "someone@example.org"}, "invalid_request"),
    ({"grant_type": "password", "password": "x"}, "invalid_request"),
    ({"grant_type": "refresh_token"}, "invalid_request"),
    ({**PASSWORD, "username": ""}, "invalid_request"),  # an empty field is a missing one
    ({**PASSWORD, "grant_type": "client_credentials"}, "unsupported_grant_type"),
]


def test_the_token_form_schema_requires_each_grants_parameters() -> None:
    form = body_schema(gateway_asgi_app, "post", "/api/v1/auth/token", "application/x-www-form-urlencoded")
    responses = gateway_asgi_app.openapi()["paths"]["/api/v1/auth/token"]["post"]["responses"]

    for valid in (PASSWORD, {**PASSWORD, "grant_type": "password", "scope": "offline_access"}, REFRESH):
        assert form.is_valid(valid), valid
    for invalid, _ in MISSING:
        assert not form.is_valid(invalid), invalid
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert "invalid_request" in responses["400"]["description"]


async def test_schema_valid_token_requests_are_not_refused_as_malformed(
    gateway_client: httpx.AsyncClient,
) -> None:
    for valid in (PASSWORD, REFRESH):  # wrong credentials: refused as such (401), not as malformed
        response = await gateway_client.post("/api/v1/auth/token", data=valid)
        assert response.status_code == 401 and response.json()["error"] != "invalid_request", response.text
    for invalid, code in MISSING:  # RFC 6749 §5.2
        response = await gateway_client.post("/api/v1/auth/token", data=invalid)
        assert response.status_code == 400 and response.json()["error"] == code, (invalid, response.text)


# --- drafts: channels are the configured ones, each once ---------------------------------------


def test_draft_channels_are_the_configured_ones_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARPOST_PUBLISHER_CHANNELS", '["webhook", "sandbox", "mastodon"]')
    monkeypatch.setattr(drafts_asgi_app, "openapi_schema", None)  # built again with these settings
    draft = {"title": "Flu shots", "body": "Walk-in clinic on Friday."}
    schema = body_schema(drafts_asgi_app, "post", "/api/v1/drafts")
    channels = drafts_asgi_app.openapi()["components"]["schemas"]["DraftIn"]["properties"]["channels"]

    assert channels["items"]["enum"] == ["mastodon", "sandbox", "webhook"]
    assert channels["uniqueItems"] is True and channels["minItems"] == 1
    assert schema.is_valid({**draft, "channels": ["webhook", "sandbox"]})
    assert not schema.is_valid({**draft, "channels": ["sandbox", "sandbox"]})
    assert not schema.is_valid({**draft, "channels": ["twitter"]})
    assert not schema.is_valid({**draft, "channels": []})
    assert not schema.is_valid({**draft, "channels": ["sandbox"], "consent_ids": [""]})
    assert not schema.is_valid({**draft, "channels": ["sandbox"], "consent_ids": ["c" * 65]})


async def test_a_well_formed_draft_naming_the_past_or_a_missing_consent_is_a_conflict_not_malformed(
    api: DraftsApi,
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    headers = api.as_user("author")

    scheduled = await api.http.post("/api/v1/drafts", json={**DRAFT, "scheduled_at": past}, headers=headers)
    missing = await api.http.post(
        "/api/v1/drafts", json={**DRAFT, "consent_ids": ["c-none"]}, headers=headers
    )

    assert scheduled.status_code == 409 and scheduled.json()["error"] == "invalid_schedule"
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_consent"
    assert api.audit.events == []


# --- review: an override names exactly one target ---------------------------------------------


def test_an_override_is_one_of_two_bodies_each_naming_one_target() -> None:
    schema = body_schema(review_asgi_app, "post", "/api/v1/reviews/{draft_id}/overrides")
    common = {"content_hash": CONTENT_HASH, "reason": "cleared with the patient", "password": "pw"}
    by_index, by_rule = {**common, "finding_index": 0}, {**common, "finding_rule": "phi.phone"}
    adapter: TypeAdapter[OverrideByIndex | OverrideByRule] = TypeAdapter(OverrideIn)

    # The bodies accepted before (the other target left out or null) still are, and the schema says so.
    for body, model in (
        (by_index, OverrideByIndex),
        (by_rule, OverrideByRule),
        ({**by_index, "finding_rule": None}, OverrideByIndex),
        ({**by_rule, "finding_index": None}, OverrideByRule),
    ):
        assert schema.is_valid(body) and isinstance(adapter.validate_python(body), model), body
    for body, message in (
        ({**by_index, "finding_rule": "phi.phone"}, "exactly one of finding_index or finding_rule"),
        (common, "exactly one of finding_index or finding_rule"),
        ({**by_rule, "reason": " \u001d\u3000"}, "a reason is required"),
    ):
        assert not schema.is_valid(body), body
        with pytest.raises(ValidationError, match=message):
            adapter.validate_python(body)
    assert schema.is_valid({**by_rule, "reason": "\ufeffok"})  # not white space to either side


# --- audit: the export's media types; a consistency proof that does not exist ----------------


def test_the_export_documents_the_media_types_it_streams() -> None:
    operation = audit_asgi_app.openapi()["paths"]["/api/v1/audit/export"]["get"]

    assert set(operation["responses"]["200"]["content"]) == {"application/x-ndjson", "text/csv"}


async def test_a_consistency_proof_between_sizes_the_log_does_not_have_is_not_found(
    audit_app: AuditApp,
) -> None:
    for n in range(1, 6):
        await audit_app.append(n)
    ask = {"headers": audit_app.bearer("auditor")}

    larger_first = await audit_app.client.get("/api/v1/audit/consistency?first=4&second=2", **ask)
    beyond = await audit_app.client.get("/api/v1/audit/consistency?first=2&second=999", **ask)
    same = await audit_app.client.get("/api/v1/audit/consistency?first=3&second=3", **ask)
    documented = audit_asgi_app.openapi()["paths"]["/api/v1/audit/consistency"]["get"]["responses"]

    assert larger_first.status_code == 404 and "first <= second" in larger_first.json()["detail"]
    assert beyond.status_code == 404 and "no tree of 999 events" in beyond.json()["detail"]
    assert same.status_code == 200 and same.json()["proof"] == []
    assert "404" in documented and "422" in documented


async def test_a_query_for_events_is_bounded_by_what_a_seq_can_be(audit_app: AuditApp) -> None:
    """seq is a 32-bit column: a larger after_seq is refused as invalid, not failed in the database."""
    ask = {"headers": audit_app.bearer("auditor")}
    largest = await audit_app.client.get(f"/api/v1/audit/events?after_seq={2**31 - 1}", **ask)
    beyond = await audit_app.client.get(f"/api/v1/audit/events?after_seq={2**31}", **ask)

    assert largest.status_code == 200 and largest.json()["events"] == []
    assert beyond.status_code == 422 and beyond.json()["detail"][0]["loc"] == ["query", "after_seq"]
