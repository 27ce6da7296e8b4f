"""API and activity worker apart: `clearpost serve SERVICE --no-worker` starts no worker,
`clearpost worker SERVICE` starts only the service's worker on its own task queue, and
`clearpost worker` alone is still the workflow worker (the Procfile's contract)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

import services.cli as cli
import services.kit.temporal as kit_temporal
from services.audit import main as audit_main
from services.kit.processes import ProcessRole, role_of, run_activity_worker, set_role
from workflows.contracts import AUDIT_TASK_QUEUE

runner = CliRunner()


@pytest.fixture(autouse=True)
def process_logging_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands configure the process's logging; here that would outlive the test."""
    monkeypatch.setattr(cli, "configure_logging", lambda *args, **kwargs: None)


class FakeWorker:
    """Stands in for temporalio's Worker: records what would poll which queue."""

    started: list[FakeWorker] = []

    def __init__(
        self, client: object, *, task_queue: str, activities: Sequence[Callable[..., Any]], **_: Any
    ):
        self.task_queue = task_queue
        self.activities = [getattr(a, "__name__", str(a)) for a in activities]
        self._stopped = asyncio.Event()
        FakeWorker.started.append(self)

    async def run(self) -> None:
        await self._stopped.wait()

    async def shutdown(self) -> None:
        self._stopped.set()


class FakeServiceClient:
    async def check_health(self, **_: Any) -> bool:
        return True


class FakeClient:
    service_client = FakeServiceClient()


@pytest.fixture
def audit_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """The audit service's app with Temporal on (a fake client and worker), on a SQLite file."""
    monkeypatch.setenv("CLEARPOST_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CLEARPOST_AUDIT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    monkeypatch.setenv("CLEARPOST_INTERNAL_TOKEN", "audit-token")
    monkeypatch.setenv("CLEARPOST_TEMPORAL_ENABLED", "true")

    async def connect(settings: object) -> FakeClient:
        return FakeClient()

    monkeypatch.setattr(audit_main, "connect", connect)
    monkeypatch.setattr(kit_temporal, "Worker", FakeWorker)
    FakeWorker.started = []
    app = audit_main.app
    for name in ("activity_task_queue", "revocations"):  # what another test's run of it left
        if hasattr(app.state, name):
            delattr(app.state, name)
    try:
        yield app
    finally:
        set_role(app, ProcessRole.API_AND_WORKER)
        for name in ("activity_task_queue", "revocations"):
            if hasattr(app.state, name):
                delattr(app.state, name)


async def test_serve_without_the_worker_starts_no_activity_worker(audit_app: FastAPI) -> None:
    set_role(audit_app, ProcessRole.API)
    async with audit_app.router.lifespan_context(audit_app):
        assert FakeWorker.started == []
        assert audit_app.state.temporal is not None  # the API still talks to Temporal
        assert audit_app.state.revocations is not None  # and checks tokens


async def test_serve_runs_the_api_and_its_worker_by_default(audit_app: FastAPI) -> None:
    async with audit_app.router.lifespan_context(audit_app):
        assert [w.task_queue for w in FakeWorker.started] == [AUDIT_TASK_QUEUE]
        assert FakeWorker.started[0].activities == ["append_audit_event"]


async def test_the_worker_alone_polls_the_services_queue_and_serves_nothing(audit_app: FastAPI) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(run_activity_worker(audit_app, "audit", stop))
    for _ in range(200):
        if FakeWorker.started:
            break
        await asyncio.sleep(0.01)
    assert role_of(audit_app) is ProcessRole.WORKER
    assert [w.task_queue for w in FakeWorker.started] == [AUDIT_TASK_QUEUE]
    assert not hasattr(audit_app.state, "revocations")  # no API: no token checks, no polling
    stop.set()
    await asyncio.wait_for(running, 10)


def test_serve_no_worker_hands_uvicorn_the_app_in_the_api_role(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(self.config.app))
    try:
        result = runner.invoke(cli.app, ["serve", "audit", "--no-worker"])
        assert result.exit_code == 0, result.output
        assert served == [audit_main.app]
        assert role_of(audit_main.app) is ProcessRole.API

        result = runner.invoke(cli.app, ["serve", "audit"])
        assert result.exit_code == 0, result.output
        assert role_of(audit_main.app) is ProcessRole.API_AND_WORKER
    finally:
        set_role(audit_main.app, ProcessRole.API_AND_WORKER)


def test_worker_with_a_service_runs_that_services_activity_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[str, str]] = []

    async def fake_run(app: FastAPI, service: str) -> None:
        ran.append((app.title, service))

    monkeypatch.setattr(cli, "run_activity_worker", fake_run)
    result = runner.invoke(cli.app, ["worker", "review"])

    assert result.exit_code == 0, result.output
    assert ran == [("Clearpost review", "review")]


def test_worker_alone_is_still_the_workflow_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    import workflows.worker

    ran: list[str] = []

    async def fake_main() -> None:
        ran.append("workflows")

    monkeypatch.setattr(workflows.worker, "main", fake_main)
    result = runner.invoke(cli.app, ["worker"])

    assert result.exit_code == 0, result.output
    assert ran == ["workflows"]


@pytest.mark.parametrize("service", ["gateway", "nonsense"])
def test_worker_refuses_a_service_without_activities(service: str) -> None:
    result = runner.invoke(cli.app, ["worker", service])

    assert result.exit_code == 2
    assert "no activity worker" in result.output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_a_worker_with_a_health_port_answers_probes_and_scrapes_and_nothing_else(
    audit_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    port = _free_port()
    monkeypatch.setenv("CLEARPOST_WORKER_HEALTH_PORT", str(port))
    monkeypatch.setenv("CLEARPOST_METRICS_TOKEN", "scrape-me")
    stop = asyncio.Event()
    running = asyncio.create_task(run_activity_worker(audit_app, "audit", stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(500):
                try:
                    health = await http.get("/healthz")
                    break
                except httpx.ConnectError:
                    assert not running.done(), running
                    await asyncio.sleep(0.02)
            assert health.json() == {"status": "ok", "service": "audit"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
            assert (await http.get("/metrics")).status_code == 401
            scraped = await http.get("/metrics", headers={"authorization": "Bearer scrape-me"})
            assert scraped.status_code == 200
            assert "temporal_" in scraped.text or "python_info" in scraped.text
            api = await http.get("/api/v1/audit/events")
            assert api.status_code == 404
            assert "only /healthz" in api.json()["detail"]
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


class FailingServiceClient:
    async def check_health(self, **_: Any) -> bool:
        raise RuntimeError("connection refused")


class FailingClient:
    service_client = FailingServiceClient()


async def test_the_workflow_workers_probes_follow_temporal(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from services.kit.ops_listener import OpsOnly, workflow_worker_ops_app
    from services.kit.settings import KitSettings

    monkeypatch.setenv("CLEARPOST_METRICS_TOKEN", "scrape-me")
    settings = KitSettings()
    for client, status in ((FakeClient(), 200), (FailingClient(), 503)):
        app = OpsOnly(workflow_worker_ops_app(settings, client))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok", "service": "workflows"}
            ready = await http.get("/readyz")
            assert ready.status_code == status, ready.text
            assert (await http.get("/metrics")).status_code == 401
            assert (
                await http.get("/metrics", headers={"authorization": "Bearer scrape-me"})
            ).status_code == 200
            assert (await http.get("/openapi.json")).status_code == 404
    assert "connection refused" in ready.json()["checks"]["temporal"]


def test_bind_host_overrides_the_host_of_the_services_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.kit.settings import KitSettings

    monkeypatch.setenv("CLEARPOST_REVIEW_URL", "http://review.clearpost.svc:8002")
    assert KitSettings().bind_address("review") == ("review.clearpost.svc", 8002)
    monkeypatch.setenv("CLEARPOST_BIND_HOST", "0.0.0.0")
    assert KitSettings().bind_address("review") == ("0.0.0.0", 8002)


def test_the_gateway_with_an_internal_port_listens_on_both(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.gateway.main as gateway_main

    public, internal = _free_port(), _free_port()
    monkeypatch.setenv("CLEARPOST_GATEWAY_URL", f"http://127.0.0.1:{public}")
    monkeypatch.setenv("CLEARPOST_GATEWAY_INTERNAL_PORT", str(internal))
    bound: list[list[int]] = []

    def run(self: uvicorn.Server, sockets: list[Any] | None = None) -> None:
        bound.append([s.getsockname()[1] for s in sockets or []])
        for sock in sockets or []:
            sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    result = runner.invoke(cli.app, ["serve", "gateway"])

    assert result.exit_code == 0, result.output
    assert bound == [[public, internal]]
    assert role_of(gateway_main.app) is ProcessRole.API_AND_WORKER


def test_the_gateway_refuses_to_start_on_a_taken_internal_port(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setenv("CLEARPOST_GATEWAY_URL", f"http://127.0.0.1:{_free_port()}")
        monkeypatch.setenv("CLEARPOST_GATEWAY_INTERNAL_PORT", str(taken.getsockname()[1]))
        monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
        result = runner.invoke(cli.app, ["serve", "gateway"])

    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1:" in result.output
