"""What one service process runs: its HTTP API, its Temporal activity worker, or both.

`clearpost serve <service>` runs both in one process (`make run`, the Procfile); in a cluster the
API (`clearpost serve <service> --no-worker`) and the worker (`clearpost worker <service>`) run
apart, so each scales on its own. Either way the service's one `lifespan` builds the engines and
clients; `activity_worker` is the only place it starts its worker, and the role decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from enum import StrEnum
from typing import Any

from fastapi import FastAPI
from temporalio.client import Client

from services.kit.ops_listener import ops_listener
from services.kit.temporal import running_worker

log = logging.getLogger("clearpost.processes")


class ProcessRole(StrEnum):
    API_AND_WORKER = "api-and-worker"  # clearpost serve <service>
    API = "api"  # clearpost serve <service> --no-worker
    WORKER = "worker"  # clearpost worker <service>


class NoActivityWorker(RuntimeError):
    """`clearpost worker <service>` for a service that ran no activity worker (the gateway has none,
    and none runs without Temporal)."""


def set_role(app: FastAPI, role: ProcessRole) -> None:
    """Before the app starts: what its lifespan runs."""
    app.state.process_role = role


def role_of(app: FastAPI) -> ProcessRole:
    role: ProcessRole = getattr(app.state, "process_role", ProcessRole.API_AND_WORKER)
    return role


def serves_api(app: FastAPI) -> bool:
    return role_of(app) is not ProcessRole.WORKER


@contextlib.asynccontextmanager
async def activity_worker(
    app: FastAPI, client: Client, task_queue: str, activities: Sequence[Callable[..., Any]]
) -> AsyncIterator[None]:
    """The service's activity worker for the block, unless this process serves only the API."""
    if role_of(app) is ProcessRole.API:
        yield
        return
    async with running_worker(client, task_queue, activities):
        app.state.activity_task_queue = task_queue
        yield


async def run_activity_worker(app: FastAPI, service: str, stop: asyncio.Event | None = None) -> None:
    """Run `app`'s lifespan without its HTTP API until `stop` is set (by default: SIGTERM or
    SIGINT): the service's activity worker alone, on the service's own task queue. No HTTP API means
    no revocation list either (app.py) and none of the API's own background work; with
    CLEARPOST_WORKER_HEALTH_PORT set, its /healthz, /readyz and /metrics answer on that port."""
    set_role(app, ProcessRole.WORKER)
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT) if stop is None else ()
    stop = stop or asyncio.Event()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with app.router.lifespan_context(app):
            task_queue = getattr(app.state, "activity_task_queue", None)
            if task_queue is None:
                raise NoActivityWorker(
                    f"{service} ran no activity worker (the gateway has none; the others need "
                    "Temporal: CLEARPOST_TEMPORAL_ENABLED)"
                )
            settings = app.state.settings
            host = settings.bind_host or "127.0.0.1"
            async with ops_listener(app, host, settings.worker_health_port):
                log.info("activity worker running", extra={"service": service, "task_queue": task_queue})
                await stop.wait()
            log.info("activity worker stopping", extra={"service": service, "task_queue": task_queue})
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
