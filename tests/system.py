"""The whole system, started for real: Temporal dev server, five services, the workflow worker.

Everything binds to free loopback ports and keeps its data in a temporary folder, so the suite
never collides with a running `make run`. Each system has a Temporal namespace of its own on the one
dev server: two systems alive at once (the session's and a suite's own) poll the same task queue
names, and in one namespace each would take the other's workflow and activity tasks, which it can
neither decrypt nor find in its databases.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from services.kit.settings import SERVICE_NAMES
from tests.conftest import REPO_ROOT, venv_binary
from tests.database import KINDS, POSTGRES_URL, drop_schemas, postgres_answers
from tests.otlp import OtlpReceiver
from tests.webhook import WebhookReceiver

DEMO_PASSWORD = "demo-password"
# Created with the dev server (a namespace registered later is not usable at once): one per system a
# session starts, so more than any session needs.
SYSTEM_NAMESPACES = tuple(f"e2e-system-{n}" for n in range(1, 9))
_namespaces_taken = count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningSystem:
    var_dir: Path
    env: dict[str, str]
    urls: dict[str, str]
    logs: Path
    traces: OtlpReceiver
    webhook: WebhookReceiver  # the publisher's second channel, `webhook`, posts here
    temporal: Client  # on this system's namespace, without the payload key (as anyone could connect)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.temporal.namespace

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]

    def token(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = httpx.post(
            f"{self.gateway}/api/v1/auth/token", data={"username": username, "password": password}, timeout=10
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def client(self, username: str | None = None, *, base: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token(username)}"} if username else {}
        return httpx.AsyncClient(base_url=base or self.gateway, headers=headers, timeout=30)


def _wait_healthy(system: RunningSystem, deadline_seconds: float = 90) -> None:
    deadline = time.monotonic() + deadline_seconds
    pending = dict(system.urls)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    pending.pop(name)
            except httpx.HTTPError:
                pass
        for process in system.processes:
            if process.poll() is not None:
                command = " ".join(map(str, process.args)) if isinstance(process.args, list) else process.args
                raise RuntimeError(f"{command!s} exited with {process.returncode}; logs in {system.logs}")
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not healthy in time: {sorted(pending)}; logs in {system.logs}")


@pytest.fixture(scope="session")
async def temporal_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=[arg for name in SYSTEM_NAMESPACES for arg in ("--namespace", name)],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session", params=KINDS)
def system(
    request: pytest.FixtureRequest,
    temporal_dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningSystem]:
    """The running system, once on SQLite files and once with every service on PostgreSQL."""
    with start_system(request.param, temporal_dev_server, tmp_path_factory) as running:
        yield running


@contextmanager
def start_system(
    kind: str,
    temporal_dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    extra_env: Mapping[str, str] | Callable[[dict[str, str]], Mapping[str, str]] | None = None,
) -> Iterator[RunningSystem]:
    """Start every service and the worker on `kind` ("sqlite" or "postgresql"), with `extra_env`
    on top of the suite's environment (a suite that needs its own settings starts its own system).
    `extra_env` may be a function of the services' URLs (e.g. to register the gateway's callback
    with an identity provider before the gateway starts)."""
    database_env: dict[str, str] = {}
    if kind == "postgresql":
        if not postgres_answers():
            pytest.skip(f"no PostgreSQL answers at {POSTGRES_URL}")
        prefix = f"e2e{uuid.uuid4().hex[:8]}_"
        database_env = {"CLEARPOST_DATABASE_URL": POSTGRES_URL, "CLEARPOST_DB_SCHEMA_PREFIX": prefix}
    taken = next(_namespaces_taken)
    if taken >= len(SYSTEM_NAMESPACES):
        raise RuntimeError(f"a session starts at most {len(SYSTEM_NAMESPACES)} systems (SYSTEM_NAMESPACES)")
    namespace = SYSTEM_NAMESPACES[taken]
    receiver = OtlpReceiver().__enter__()
    var_dir = tmp_path_factory.mktemp("clearpost-var")
    webhook_secret = var_dir / "webhook-secret"
    webhook_secret.write_text(secrets.token_hex(32))
    webhook_secret.chmod(0o600)
    webhook = WebhookReceiver(webhook_secret.read_bytes()).__enter__()
    logs = var_dir / "logs"
    logs.mkdir()
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
    if callable(extra_env):
        extra_env = extra_env(dict(urls))
    env = {
        **os.environ,
        "CLEARPOST_VAR_DIR": str(var_dir),
        "CLEARPOST_TEMPORAL_ADDRESS": temporal_dev_server.client.service_client.config.target_host,
        "CLEARPOST_TEMPORAL_NAMESPACE": namespace,
        "CLEARPOST_DEMO": "1",
        "CLEARPOST_LOG_LEVEL": "warning",
        # Every test client shares 127.0.0.1, and the suites sign in wrongly on purpose (and the
        # fuzzer at random) with the demo accounts: the limits would lock later tests out. Lockout
        # itself is tested in tests/unit/test_gateway_lockout.py with accounts of its own.
        "CLEARPOST_GATEWAY_MAX_FAILURES_PER_ADDRESS": "1000000",
        "CLEARPOST_GATEWAY_MAX_FAILURES_PER_ACCOUNT": "1000",
        "CLEARPOST_REVIEW_UI_MAX_FAILURES_PER_ACCOUNT": "1000",
        "CLEARPOST_REVIEW_UI_MAX_FAILURES_PER_ADDRESS": "1000000",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "CLEARPOST_PUBLISHER_CHANNELS": '["sandbox", "webhook"]',
        "CLEARPOST_PUBLISHER_WEBHOOK_URL": webhook.endpoint,
        "CLEARPOST_PUBLISHER_WEBHOOK_SECRET_FILE": str(webhook_secret),
        **{f"CLEARPOST_{name.upper()}_URL": url for name, url in urls.items()},
        **database_env,
        **(extra_env or {}),
    }
    clearpost = [sys.executable, "-m", "services.cli"]
    subprocess.run([*clearpost, "migrate"], env=env, cwd=REPO_ROOT, check=True, capture_output=True)
    subprocess.run([*clearpost, "seed-demo"], env=env, cwd=REPO_ROOT, check=True, capture_output=True)
    running = RunningSystem(
        var_dir=var_dir,
        env=env,
        urls=urls,
        logs=logs,
        traces=receiver,
        webhook=webhook,
        temporal=Client(temporal_dev_server.client.service_client, namespace=namespace),
    )
    commands = {name: [*clearpost, "serve", name] for name in SERVICE_NAMES} | {
        "workflows": [*clearpost, "worker"]
    }
    try:
        for name, command in commands.items():
            log = (logs / f"{name}.log").open("wb")
            running.processes.append(
                subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
            )
        _wait_healthy(running)
        yield running
    finally:
        for process in running.processes:
            process.terminate()
        for process in running.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        receiver.__exit__()
        webhook.__exit__()
        if database_env:
            drop_schemas(database_env["CLEARPOST_DB_SCHEMA_PREFIX"])
