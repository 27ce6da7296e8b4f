"""The system as `make run` starts it (Temporal dev server, five services, the workflow worker), on
free loopback ports with its data in a temporary folder, one process per command.

`cluster` is the shape of infra/ instead: PostgreSQL, every service API (`serve --no-worker`) and
every activity worker (`worker <service>`) a process of its own, each with a var/ folder of its
own (nothing shared on disk) and only its part of the secrets `clearpost keys bootstrap` made,
as on different hosts. `cluster-2x` runs two of each worker (a second replica).

Unlike honcho, which stops everything when one process dies, every process here is its own
session: killing one (`kill -9`) leaves the others running, and it can be started again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from services.kit.db import drop_schemas
from services.kit.settings import SERVICE_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TEMPORAL = "temporal"
WORKER = "workflows"
PROCESS_NAMES = (TEMPORAL, *SERVICE_NAMES, WORKER)
ACTIVITY_SERVICES = tuple(name for name in SERVICE_NAMES if name != "gateway")
SIGNING_SERVICES = ("gateway", "review", "audit")
KINDS = ("sqlite", "postgresql", "cluster", "cluster-2x")


def cluster_names(replicas: int) -> tuple[str, ...]:
    """Temporal, the five APIs, then each worker (`<service>-worker[-n]`, `workflows[-n]`)."""
    workers = [
        f"{base}-{n}" if n > 1 else base
        for n in range(1, replicas + 1)
        for base in (*(f"{s}-worker" for s in ACTIVITY_SERVICES), WORKER)
    ]
    return (TEMPORAL, *SERVICE_NAMES, *workers)


def service_of(name: str) -> str:
    """The service a process belongs to ("review-worker-2" -> "review"; "workflows" -> "workflows")."""
    return name.split("-")[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Stack:
    """A running system; `with Stack.start(...) as stack:` stops and removes it afterwards."""

    kind: str
    var_dir: Path
    env: dict[str, str]
    urls: dict[str, str]
    temporal_address: str
    schema_prefix: str | None = None
    postgres_url: str | None = None
    names: tuple[str, ...] = PROCESS_NAMES
    health_ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)
    _owns_var_dir: bool = False

    @classmethod
    def start(
        cls,
        kind: str = "sqlite",
        *,
        postgres_url: str = DEFAULT_POSTGRES_URL,
        extra_env: dict[str, str] | None = None,
        var_dir: Path | None = None,
    ) -> Stack:
        """Migrate, seed the demo users and start every process; returns once every one is ready."""
        owns = var_dir is None
        var_dir = var_dir or Path(tempfile.mkdtemp(prefix=f"clearpost-{kind}-"))
        (var_dir / "logs").mkdir(parents=True, exist_ok=True)
        urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVICE_NAMES}
        temporal_address = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "CLEARPOST_VAR_DIR": str(var_dir),
            "CLEARPOST_DEMO": "1",
            "CLEARPOST_TEMPORAL_ADDRESS": temporal_address,
            "CLEARPOST_TEMPORAL_UI_PORT": str(free_port()),
            **{f"CLEARPOST_{name.upper()}_URL": url for name, url in urls.items()},
        }
        prefix: str | None = None
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
        if kind != "sqlite":
            prefix = f"load{uuid.uuid4().hex[:8]}_"
            env |= {"CLEARPOST_DATABASE_URL": postgres_url, "CLEARPOST_DB_SCHEMA_PREFIX": prefix}
        names: tuple[str, ...] = PROCESS_NAMES
        if kind.startswith("cluster"):
            names = cluster_names(2 if kind == "cluster-2x" else 1)
            env |= {"CLEARPOST_SECRETS_DIR": str(var_dir / "secrets" / "shared")}
        env |= extra_env or {}
        stack = cls(
            kind=kind,
            var_dir=var_dir,
            env=env,
            urls=urls,
            temporal_address=temporal_address,
            schema_prefix=prefix,
            postgres_url=postgres_url if prefix else None,
            names=names,
            # Workers alone answer probes on a port of their own; under `make run` there are none.
            health_ports={n: free_port() for n in names if n not in (TEMPORAL, *SERVICE_NAMES)}
            if kind.startswith("cluster")
            else {},
            _owns_var_dir=owns,
        )
        try:
            if kind.startswith("cluster"):
                stack._clearpost(
                    "keys", "bootstrap", str(var_dir / "secrets"), "--database-url", postgres_url
                )
            stack._clearpost("migrate")
            stack._clearpost("seed-demo")
            for name in stack.names:
                stack.launch(name)
                if name == TEMPORAL:
                    stack.wait_ready([TEMPORAL], deadline_seconds=60)
            stack.wait_ready(stack.names, deadline_seconds=180)
        except BaseException:
            stack.stop()
            raise
        return stack

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]

    @property
    def clustered(self) -> bool:
        return self.kind.startswith("cluster")

    @property
    def outbox(self) -> Path:
        """The sandbox channel's ledger: one line per post the channel received (in the cluster
        shape, the publisher worker's own var/ folder: the one that posts)."""
        if self.clustered:
            return self.var_dir / "processes" / "publisher-worker" / "outbox" / "sandbox.jsonl"
        return self.var_dir / "outbox" / "sandbox.jsonl"

    def outboxes(self) -> list[Path]:
        """Every sandbox ledger (each publisher worker replica keeps its own)."""
        if not self.clustered:
            return [self.outbox]
        return sorted((self.var_dir / "processes").glob("publisher-worker*/outbox/sandbox.jsonl"))

    def process_env(self, name: str) -> dict[str, str]:
        """What one process sees: in the cluster shape, a var/ folder of its own and only its
        service's secrets (the shared ones, its own settings, its own signing keys)."""
        if not self.clustered or name == TEMPORAL:
            return self.env
        service = service_of(name)
        secrets = self.var_dir / "secrets"
        own = [str(secrets / "shared")] + ([str(secrets / service / "settings")] if service != WORKER else [])
        env = {
            **self.env,
            "CLEARPOST_VAR_DIR": str(self.var_dir / "processes" / name),
            "CLEARPOST_SECRETS_DIR": os.pathsep.join(own),
        }
        if service in SIGNING_SERVICES:
            env["CLEARPOST_OWN_KEYS_DIR"] = str(secrets / service / "keys")
        if name in self.health_ports:
            env["CLEARPOST_WORKER_HEALTH_PORT"] = str(self.health_ports[name])
        return env

    def log_path(self, name: str) -> Path:
        return self.var_dir / "logs" / f"{name}.log"

    def _clearpost(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            env=self.env,
            cwd=REPO_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _command(self, name: str) -> list[str]:
        clearpost = [sys.executable, "-m", "services.cli"]
        if name == TEMPORAL:
            return [*clearpost, "temporal"]
        if service_of(name) == WORKER:
            return [*clearpost, "worker"]
        if name.endswith("-worker") or "-worker-" in name:
            return [*clearpost, "worker", service_of(name)]
        if self.clustered and name != "gateway":
            return [*clearpost, "serve", name, "--no-worker"]
        return [*clearpost, "serve", name]

    def launch(self, name: str) -> None:
        """Start one process (again), appending to its log; its own session, so it dies alone."""
        log = self._logs.get(name) or self.log_path(name).open("ab")
        self._logs[name] = log
        self.processes[name] = subprocess.Popen(
            self._command(name),
            env=self.process_env(name),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """kill -9, as a crash would: no graceful shutdown, no lifespan exit."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def ready(self, name: str) -> bool:
        """The service's /readyz says ready; Temporal answers on its port; the worker runs."""
        if not self.alive(name):
            return False
        if name == TEMPORAL:
            host, _, port = self.temporal_address.rpartition(":")
            return port_answers(host, int(port))
        if name in self.health_ports:
            url = f"http://127.0.0.1:{self.health_ports[name]}"
        elif name == WORKER:
            return True
        else:
            url = self.urls[name]
        try:
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def readiness(self) -> dict[str, bool]:
        return {name: self.ready(name) for name in self.names}

    def wait_ready(self, names: tuple[str, ...] | list[str], *, deadline_seconds: float) -> None:
        deadline = time.monotonic() + deadline_seconds
        pending = list(names)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                if not self.alive(name):
                    raise RuntimeError(f"{name} exited; see {self.log_path(name)}")
                if self.ready(name):
                    pending.remove(name)
            if pending:
                time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready in {deadline_seconds:.0f} s: {pending}; logs in {self.var_dir}")

    def stop(self) -> None:
        """SIGTERM everything (the services first, Temporal last), then clean up."""
        order = [n for n in reversed(self.names) if n in self.processes]
        for name in order:
            if self.alive(name):
                self.processes[name].terminate()
        for name in order:
            try:
                self.processes[name].wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.processes[name].kill()
                self.processes[name].wait()
        for log in self._logs.values():
            log.close()
        if self.schema_prefix and self.postgres_url:
            asyncio.run(drop_schemas(self.postgres_url, self.schema_prefix))
        if self._owns_var_dir and not os.environ.get("CLEARPOST_LOAD_KEEP"):
            shutil.rmtree(self.var_dir, ignore_errors=True)
