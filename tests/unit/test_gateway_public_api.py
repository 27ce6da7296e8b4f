"""The gateway's one OpenAPI document (its own routes and every route it proxies, read from each
service's document), the methods it declares per proxied path, and /internal kept off its listener."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.audit.main import app as audit_asgi_app
from services.drafts.main import app as drafts_asgi_app
from services.gateway.proxy import UPSTREAMS, UpstreamProxy, owner_of, upstream_client
from services.gateway.public_api import SERVICE_EXTENSION, PublicApi, merge
from services.kit.auth import INTERNAL_HEADER
from services.kit.metrics import load_metrics_token
from services.publisher.main import app as publisher_asgi_app
from services.review.main import app as review_asgi_app
from tests.conftest import REPO_ROOT

SERVICE_APPS = {
    "drafts": drafts_asgi_app,
    "review": review_asgi_app,
    "publisher": publisher_asgi_app,
    "audit": audit_asgi_app,
}


@pytest.fixture
def gateway_upstreams() -> dict[str, str]:
    return {service: f"http://{service}.test" for service in SERVICE_APPS}


@pytest.fixture
async def public_api(gateway_app: FastAPI) -> AsyncIterator[PublicApi]:
    """The gateway reading the real services' documents (their apps in process, not started)."""
    mounts = {f"http://{s}.test": httpx.ASGITransport(app=app) for s, app in SERVICE_APPS.items()}
    async with httpx.AsyncClient(mounts=mounts) as http:
        settings = gateway_app.state.settings
        api = PublicApi(http, settings, lambda: FastAPI.openapi(gateway_app), refresh_seconds=300)
        await api.refresh()
        gateway_app.state.public_api = api
        gateway_app.state.proxy = UpstreamProxy(http, settings, api)
        yield api


def readme_routes() -> Iterator[tuple[str, str]]:
    """(method, path) of every route in the README's public API table, under /api/v1."""
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Public API (gateway, `/api/v1`)", 1)[1].split("\n## ", 1)[0]
    for row in table.splitlines():
        if not row.startswith("| `"):
            continue
        first_cell = row.split("|")[1]
        for span in re.findall(r"`([^`]+)`", first_cell):
            match = re.match(r"^((?:[A-Z]+/)*[A-Z]+) (/\S+)$", span)
            if match is None:
                continue
            path = match.group(2).split("?", 1)[0]
            for method in match.group(1).split("/"):
                yield method, f"/api/v1{path}"


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_the_readme_table_is_read() -> None:
    routes = list(readme_routes())
    assert len(routes) > 50 and ("POST", "/api/v1/drafts/{id}/submit") in routes


async def test_every_public_route_of_the_readme_is_in_the_one_document(
    gateway_client: httpx.AsyncClient, public_api: PublicApi
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()

    documented = {(m.upper(), shape(p)) for p, ops in document["paths"].items() for m in ops}
    missing = [(m, p) for m, p in readme_routes() if (m, shape(p)) not in documented]
    assert missing == [] and public_api.missing == []
    assert document["info"]["title"] == "Clearpost public API"


async def test_no_internal_or_operations_route_of_a_service_is_in_it(
    gateway_client: httpx.AsyncClient, public_api: PublicApi
) -> None:
    document = (await gateway_client.get("/openapi.json")).json()

    assert not [p for p in document["paths"] if p.startswith("/internal")]
    assert "/metrics" not in document["paths"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            service = operation.get(SERVICE_EXTENSION)
            assert service is None or owner_of(path) == service, (path, service)
    proxied = {
        op[SERVICE_EXTENSION]
        for ops in document["paths"].values()
        for op in ops.values()
        if SERVICE_EXTENSION in op
    }
    assert proxied == set(UPSTREAMS)


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


async def test_every_reference_resolves_and_same_named_schemas_are_kept_apart(public_api: PublicApi) -> None:
    document = public_api.document()

    for ref in refs(document):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][section], ref
    # The same error shape everywhere: one ErrorBody.
    assert not [
        name
        for name in document["components"]["schemas"]
        if name.endswith("ErrorBody") and name != "ErrorBody"
    ]


def test_a_clash_is_renamed_by_service_and_its_references_follow() -> None:
    own = {"openapi": "3.1.0", "info": {"title": "g"}, "paths": {}, "components": {"schemas": {}}}
    part = {
        "paths": {"/api/v1/x": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Item"}}}}},
        "components": {"schemas": {"Item": {"type": "string"}, "ErrorBody": {"type": "object"}}},
    }
    other = {
        "paths": {"/api/v1/y": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Item"}}}}},
        "components": {"schemas": {"Item": {"type": "integer"}, "ErrorBody": {"type": "object"}}},
    }

    merged = merge(own, {"drafts": part, "review": other}, missing=["audit"])

    assert merged["components"]["schemas"] == {
        "Item": {"type": "string"},
        "ReviewItem": {"type": "integer"},
        "ErrorBody": {"type": "object"},
    }
    assert (
        merged["paths"]["/api/v1/y"]["get"]["responses"]["200"]["$ref"] == "#/components/schemas/ReviewItem"
    )
    assert merged["paths"]["/api/v1/x"]["get"]["responses"]["200"]["$ref"] == "#/components/schemas/Item"
    assert "audit" in merged["info"]["description"]


UNDECLARED = [
    ("DELETE", "/api/v1/drafts", "GET, POST"),
    ("PATCH", "/api/v1/drafts/d-1/submit", "POST"),
    ("POST", "/api/v1/reviews/queue", "GET"),
    ("TRACE", "/api/v1/audit/events", "GET"),
    ("PUT", "/api/v1/drafts/d-1/takedown", "POST"),  # the publisher's, under the drafts prefix
    ("PROPFIND", "/api/v1/channels", "GET"),
]


@pytest.mark.parametrize(("method", "path", "allow"), UNDECLARED)
async def test_an_undeclared_method_on_a_proxied_path_is_a_405_with_allow(
    gateway_client: httpx.AsyncClient, public_api: PublicApi, method: str, path: str, allow: str
) -> None:
    response = await gateway_client.request(method, path, headers={"Authorization": "Bearer t"})

    assert response.status_code == 405, response.text
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["allow"] == allow


async def test_internal_routes_are_not_reachable_through_the_gateway(
    gateway_client: httpx.AsyncClient, public_api: PublicApi
) -> None:
    internal = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for app in SERVICE_APPS.values()
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/internal")
        for method in operations
    ]
    assert len(internal) >= 5
    for method, path in [*internal, ("FOO", "/internal/v1/anything")]:
        response = await gateway_client.request(
            method, path, headers={INTERNAL_HEADER: "test-internal-token"}
        )
        assert response.status_code == 404, (method, path, response.text)


async def test_the_gateway_serves_its_own_metrics_and_proxies_no_services(
    gateway_client: httpx.AsyncClient, gateway_app: FastAPI, public_api: PublicApi
) -> None:
    await gateway_client.request("DELETE", "/api/v1/drafts", headers={"Authorization": "Bearer t"})
    token = load_metrics_token(gateway_app.state.settings)

    refused = await gateway_client.get("/metrics")
    scraped = await gateway_client.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    assert refused.status_code == 401 and owner_of("/metrics") is None
    assert scraped.status_code == 200
    assert 'route="/api/v1/drafts",service="gateway",status="405"' in scraped.text


async def test_before_a_document_is_read_every_method_is_forwarded(gateway_app: FastAPI) -> None:
    async with upstream_client(connect_timeout=1, read_timeout=1) as http:
        api = PublicApi(
            http, gateway_app.state.settings, lambda: FastAPI.openapi(gateway_app), refresh_seconds=300
        )
        assert api.methods_for("/api/v1/drafts") is None
        assert sorted(api.missing) == sorted(UPSTREAMS)
        assert "/api/v1/auth/token" in api.document()["paths"]
