"""The front door against real HTTP upstreams: a fake service app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from services.gateway.config import GatewaySettings
from services.gateway.proxy import MAX_BODY_BYTES, METHODS, UpstreamProxy, upstream_client

SERVICES = ("drafts", "review", "publisher", "audit")
EXPORT_CHUNK = b"x" * 65536
EXPORT_CHUNKS = 64  # 4 MiB, well over anything the gateway would buffer by accident

fake_service = FastAPI()


@fake_service.api_route("/{path:path}", methods=METHODS)
async def echo(request: Request, path: str) -> Response:
    if path == "api/v1/audit/export":

        def chunks() -> Iterator[bytes]:
            for _ in range(EXPORT_CHUNKS):
                yield EXPORT_CHUNK

        return StreamingResponse(
            chunks(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="audit.ndjson"'},
        )
    if path == "review/page":
        return Response(
            "<p>page</p>",
            media_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "X-Frame-Options": "DENY",
                "Referrer-Policy": "same-origin",
            },
        )
    if path == "review/login":
        response = Response(status_code=303, headers={"Location": "/review/queue"})
        response.set_cookie("session", "s3cret", httponly=True)
        response.set_cookie("csrf", "t0ken")
        return response
    return JSONResponse(
        {
            "port": request.scope["server"][1],
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "body": (await request.body()).decode(),
            "headers": dict(request.headers),
        },
        status_code=int(request.query_params.get("status", "200")),
        headers={"X-Upstream-Secret": "not-for-clients"},
    )


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before uvicorn starts: early connections wait in the backlog, so no readiness polling.
    sock.listen(128)
    return sock


@asynccontextmanager
async def serving(app: FastAPI, sockets: list[socket.socket]) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=sockets))
    try:
        yield
    finally:
        server.should_exit = True
        await task
        for sock in sockets:
            sock.close()


@pytest.fixture
async def upstream_ports() -> AsyncIterator[dict[str, int]]:
    """One fake service process listening on one port per real service, so routing is observable."""
    sockets = {service: listening_socket() for service in SERVICES}
    async with serving(fake_service, list(sockets.values())):
        yield {service: sock.getsockname()[1] for service, sock in sockets.items()}


@pytest.fixture
def gateway_upstreams(upstream_ports: dict[str, int]) -> dict[str, str]:
    return {service: f"http://127.0.0.1:{port}" for service, port in upstream_ports.items()}


ROUTED = [
    ("POST", "/api/v1/drafts", "drafts"),
    ("GET", "/api/v1/drafts/d-1/versions/2", "drafts"),
    ("PATCH", "/api/v1/reviews/r-9", "review"),
    ("POST", "/api/v1/screenings", "review"),
    ("GET", "/api/v1/policy", "review"),
    ("POST", "/api/v1/crisis/posts", "review"),
    ("GET", "/api/v1/crisis/report", "review"),
    ("GET", "/review", "review"),
    ("GET", "/review/queue", "review"),
    ("PUT", "/api/v1/publications/p-1", "publisher"),
    ("DELETE", "/api/v1/channels/linkedin", "publisher"),
    ("GET", "/api/v1/audit/events", "audit"),
]


@pytest.mark.parametrize(("method", "path", "service"), ROUTED)
async def test_forwards_request_to_owning_service(
    gateway_client: httpx.AsyncClient,
    upstream_ports: dict[str, int],
    method: str,
    path: str,
    service: str,
) -> None:
    body = json.dumps({"title": "Flu shots", "n": 1})
    response = await gateway_client.request(
        method,
        path,
        params={"page": "2", "q": "a b&c"},
        content=body,
        headers={
            "Authorization": "Bearer the-callers-token",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Cookie": "session=abc",
            # Never forwarded: the gateway passes no identity or service credentials of its own.
            "X-Clearpost-Service-Token": "stolen",
            "X-User-Id": "admin",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert "x-upstream-secret" not in response.headers
    seen = response.json()
    assert seen["port"] == upstream_ports[service]
    assert seen["method"] == method
    assert seen["path"] == path
    assert seen["query"] == "page=2&q=a+b%26c"
    assert seen["body"] == body
    headers: dict[str, Any] = seen["headers"]
    assert headers["authorization"] == "Bearer the-callers-token"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["cookie"] == "session=abc"
    assert "x-clearpost-service-token" not in headers
    assert "x-user-id" not in headers


async def test_upstream_status_and_error_body_pass_through(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/api/v1/drafts/missing", params={"status": "404"})

    assert response.status_code == 404
    assert response.json()["path"] == "/api/v1/drafts/missing"


async def test_large_export_streams_through_intact(gateway_client: httpx.AsyncClient) -> None:
    async with gateway_client.stream("GET", "/api/v1/audit/export") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        assert response.headers["content-disposition"] == 'attachment; filename="audit.ndjson"'
        received = 0
        async for chunk in response.aiter_bytes():
            assert set(chunk) <= {ord("x")}
            received += len(chunk)

    assert received == len(EXPORT_CHUNK) * EXPORT_CHUNKS


async def test_cookies_and_redirects_reach_the_browser_but_are_not_kept(
    gateway_client: httpx.AsyncClient,
) -> None:
    response = await gateway_client.post("/review/login", data={"username": "u"})

    assert response.status_code == 303
    assert response.headers["location"] == "/review/queue"
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 2
    assert any(c.startswith("session=s3cret") for c in cookies)

    # The gateway's upstream client must not replay one browser's cookies to the next caller.
    gateway_client.cookies.clear()
    later = await gateway_client.get("/review/queue")
    assert "cookie" not in later.json()["headers"]


@pytest.mark.parametrize(
    "path",
    [
        "/internal/v1/events",
        "/internal",
        "/api/v1/drafts/%2e%2e/%2e%2e/%2e%2e/internal/v1/events",
        "/api/v1/draftsmith",
        "/reviewer",
        "/api/v1/nothing-here",
    ],
)
async def test_internal_and_unknown_paths_are_not_forwarded(
    gateway_client: httpx.AsyncClient, path: str
) -> None:
    for method in ("GET", "POST"):
        response = await gateway_client.request(method, path, headers={"X-Clearpost-Service-Token": "x"})
        assert response.status_code in (404, 405), (method, path, response.text)
        assert response.json()["error"] in ("not_found", "method_not_allowed")
        assert "port" not in response.text


async def test_unreachable_upstream_is_503(gateway_client: httpx.AsyncClient, gateway_app: FastAPI) -> None:
    closed = listening_socket()
    dead_port = closed.getsockname()[1]
    closed.close()
    settings = GatewaySettings(drafts_url=f"http://127.0.0.1:{dead_port}")
    async with upstream_client(connect_timeout=2.0, read_timeout=2.0) as http:
        gateway_app.state.proxy = UpstreamProxy(http, settings)

        response = await gateway_client.get("/api/v1/drafts", headers={"Authorization": "Bearer t"})

    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"


async def test_body_over_one_mebibyte_is_413(gateway_client: httpx.AsyncClient) -> None:
    declared = await gateway_client.post("/api/v1/drafts", content=b"a" * (MAX_BODY_BYTES + 1))

    async def undeclared_length() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"a" * 65536

    streamed = await gateway_client.post("/api/v1/drafts", content=undeclared_length())
    own_route = await gateway_client.post(
        "/api/v1/auth/token", content=b"username=" + b"a" * MAX_BODY_BYTES, headers={"Content-Type": "x"}
    )

    own_route_streamed = await gateway_client.post(
        "/api/v1/auth/token",
        content=undeclared_length(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    for response in (declared, streamed, own_route, own_route_streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
    exactly_max = await gateway_client.post("/api/v1/drafts", content=b"a" * MAX_BODY_BYTES)
    assert exactly_max.status_code == 200
    assert len(exactly_max.json()["body"]) == MAX_BODY_BYTES


async def test_ui_form_posts_carry_origin_and_the_gateways_own_forwarded_headers(
    gateway_client: httpx.AsyncClient,
) -> None:
    response = await gateway_client.post(
        "/review/drafts/d-1/comments",
        data={"body": "looks fine", "csrf_token": "t"},
        headers={
            "Origin": "http://test",
            "Sec-Fetch-Site": "same-origin",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
        },
    )

    seen = response.json()
    assert seen["body"] == "body=looks+fine&csrf_token=t"
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["headers"]["origin"] == "http://test"
    assert seen["headers"]["sec-fetch-site"] == "same-origin"
    # The caller's own X-Forwarded-* never reach the service; the gateway states what it saw.
    assert seen["headers"]["x-forwarded-host"] == "test"
    assert seen["headers"]["x-forwarded-proto"] == "http"


async def test_ui_security_headers_pass_through(gateway_client: httpx.AsyncClient) -> None:
    response = await gateway_client.get("/review/page")

    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


def _request(method: str, path: str) -> Request:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"gateway")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)


@pytest.mark.parametrize(("method", "sent", "status"), [("GET", 2, 200), ("POST", 1, 503)])
async def test_a_connection_the_service_closed_unanswered_is_retried_only_for_reads(
    method: str, sent: int, status: int
) -> None:
    """The keep-alive race: the service closes an idle connection as the gateway reuses it."""
    calls: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as http:
        proxy = UpstreamProxy(http, GatewaySettings())
        try:
            response = await proxy.forward(_request(method, "/api/v1/drafts/d-1"))
            answered = response.status_code
        except Exception as exc:  # UpstreamUnavailable, answered 503 by the app's error handler
            answered = getattr(exc, "status_code", 500)
    assert (len(calls), answered) == (sent, status)
