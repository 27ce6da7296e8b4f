"""What an outside fuzzer found against the gateway, kept fixed: a 405 names the documented methods
(Allow), request booleans are JSON booleans only, SCIM takes the media types it documents."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from services.audit.main import app as audit_asgi_app
from services.drafts.main import app as drafts_asgi_app
from services.gateway.main import app as gateway_asgi_app
from services.publisher.main import app as publisher_asgi_app
from services.review.main import app as review_asgi_app
from tests.unit.drafts_fixtures import DRAFT, DraftsApi, api

__all__ = ["api"]

APPS = {
    "gateway": gateway_asgi_app,
    "drafts": drafts_asgi_app,
    "review": review_asgi_app,
    "publisher": publisher_asgi_app,
    "audit": audit_asgi_app,
}
SCIM = "/scim/v2/Users"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


# --- 405 with Allow -----------------------------------------------------------------------------


async def test_a_405_names_every_method_the_path_declares(api: DraftsApi) -> None:
    listing = await api.http.delete("/api/v1/drafts", headers=api.as_user("author"))
    one = await api.http.patch("/api/v1/drafts/d-1", headers=api.as_user("author"))

    assert listing.status_code == 405 and listing.json()["error"] == "method_not_allowed"
    assert listing.headers["allow"] == "GET, POST"
    assert one.status_code == 405 and one.headers["allow"] == "GET, PUT"


async def test_the_gateways_own_routes_name_all_their_methods(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI
) -> None:
    scim = await gateway_client.put(f"{SCIM}/u-1", headers=scim_headers(gateway_app))
    token = await gateway_client.delete("/api/v1/auth/token")

    assert scim.status_code == 405 and scim.headers["allow"] == "GET, PATCH, DELETE"
    assert token.status_code == 405 and token.headers["allow"] == "POST"


# --- booleans are JSON booleans -----------------------------------------------------------------


def _request_body_schemas(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas a JSON request body may contain, followed through $refs (form
    fields are text by nature: a multipart `staff_stock=true` is parsed from a string)."""
    schemas = document.get("components", {}).get("schemas", {})
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in found:
                    found.add(name)
                    walk(schemas.get(name))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                content = operation.get("requestBody", {}).get("content", {})
                walk([body for media, body in content.items() if media.endswith("json")])
    return found


def _boolean_properties(schema: dict[str, Any]) -> Iterator[str]:
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        if any(option.get("type") == "boolean" for option in options):
            yield name


def _model(service: str, name: str) -> type[BaseModel] | None:
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(f"services.{service}") or module_name.startswith("services.kit"):
            candidate = getattr(module, name, None)
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
    return None


def request_booleans() -> Iterator[tuple[str, type[BaseModel], str]]:
    for service, app in APPS.items():
        document = app.openapi()
        for name in sorted(_request_body_schemas(document)):
            schema = document["components"]["schemas"][name]
            model = _model(service, name)
            for field in _boolean_properties(schema):
                assert model is not None, f"{service}: no model named {name}"
                yield service, model, field


def test_every_boolean_a_request_carries_refuses_numbers_and_strings() -> None:
    checked = list(request_booleans())
    assert len(checked) >= 6, checked  # drafts, media, consents, screenings, users, SCIM
    for service, model, field in checked:
        for not_a_boolean in ("0", "1", '"yes"'):
            try:
                model.model_validate_json(f'{{"{field}": {not_a_boolean}}}')
            except ValidationError as exc:
                locations = [error["loc"][0] for error in exc.errors()]
                assert field in locations, (service, model.__name__, field, not_a_boolean)
            else:
                raise AssertionError(f"{service} {model.__name__}.{field} took {not_a_boolean}")


async def test_a_number_for_a_boolean_is_a_422_on_drafts(api: DraftsApi) -> None:
    response = await api.http.post(
        "/api/v1/drafts", json={**DRAFT, "patient_content": 0}, headers=api.as_user("author")
    )

    assert response.status_code == 422
    assert [problem["loc"][-1] for problem in response.json()["detail"]] == ["patient_content"]


def scim_headers(app: FastAPI, media_type: str = "application/scim+json") -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.scim_token}", "Content-Type": media_type}


def patch_active(value: Any) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": value}]}


async def some_user(client: httpx.AsyncClient, app: FastAPI) -> str:
    listed = await client.get(
        SCIM, params={"filter": 'userName eq "author2@demo"'}, headers=scim_headers(app)
    )
    assert listed.status_code == 200, listed.text
    user_id: str = listed.json()["Resources"][0]["id"]
    return user_id


async def test_a_number_for_active_is_a_422_on_scim_and_the_users_api(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, gateway_login: Any
) -> None:
    user_id = await some_user(gateway_client, gateway_app)

    for value in (0, 1):
        scim = await gateway_client.patch(
            f"{SCIM}/{user_id}", json=patch_active(value), headers=scim_headers(gateway_app)
        )
        assert scim.status_code == 422, scim.text
        assert scim.json()["scimType"] == "invalidSyntax"
    admin = await gateway_login.headers("admin@demo")
    users = await gateway_client.patch(f"/api/v1/users/{user_id}", json={"active": 0}, headers=admin)
    assert users.status_code == 422 and users.json()["detail"][0]["loc"][-1] == "active"
    still = await gateway_client.get(f"{SCIM}/{user_id}", headers=scim_headers(gateway_app))
    assert still.json()["active"] is True


# --- SCIM media types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media_type", ["application/scim+json", "application/json", "application/json; charset=utf-8"]
)
async def test_scim_takes_both_documented_media_types(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, media_type: str
) -> None:
    user_id = await some_user(gateway_client, gateway_app)

    response = await gateway_client.patch(
        f"{SCIM}/{user_id}", json=patch_active(True), headers=scim_headers(gateway_app, media_type)
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_scim_refuses_other_media_types_with_415_and_says_why(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, media_type: str
) -> None:
    user_id = await some_user(gateway_client, gateway_app)
    headers = scim_headers(gateway_app, media_type)
    if not media_type:
        del headers["Content-Type"]

    response = await gateway_client.patch(
        f"{SCIM}/{user_id}", content=b'{"schemas": [], "Operations": []}', headers=headers
    )

    assert response.status_code == 415, response.text
    body = response.json()
    assert body["error"] == "unsupported_media_type" and body["status"] == "415"
    assert "application/scim+json or application/json" in body["detail"]


def test_the_scim_patch_documents_both_media_types_and_the_415() -> None:
    operation = gateway_asgi_app.openapi()["paths"][f"{SCIM}/{{user_id}}"]["patch"]

    assert set(operation["requestBody"]["content"]) == {"application/scim+json", "application/json"}
    assert "415" in operation["responses"]
