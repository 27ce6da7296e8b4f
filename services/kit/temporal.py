"""Temporal client and the in-process activity worker every service runs on its own task queue."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import temporalio.converter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import TLSConfig
from temporalio.worker import Worker

from services.kit.codec import EncryptionCodec, load_payload_keys
from services.kit.settings import KitSettings
from services.kit.temporal_metrics import temporal_runtime

log = logging.getLogger(__name__)


def data_converter(settings: KitSettings) -> DataConverter:
    """Every Clearpost client encrypts payloads and failure details with the same key."""
    return dataclasses.replace(
        temporalio.converter.default(),
        payload_codec=EncryptionCodec(load_payload_keys(settings)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _read(path: Path | None) -> str | None:
    return path.read_text().strip() if path is not None else None


def tls_config(settings: KitSettings) -> TLSConfig | bool:
    """TLS when a CA or a client certificate is configured (mutual TLS with both halves of one)."""
    ca, cert, key = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    if (cert is None) != (key is None):
        raise ValueError(
            "set both CLEARPOST_TEMPORAL_TLS_CERT_FILE and CLEARPOST_TEMPORAL_TLS_KEY_FILE, or neither"
        )
    if ca is None and cert is None:
        return False
    return TLSConfig(
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=settings.temporal_tls_server_name,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
    )


async def connect(settings: KitSettings, *, attempts: int = 60) -> Client:
    """Connect, waiting for the server while it starts (make run starts everything at once)."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter(settings),
                interceptors=[TracingInterceptor()],
                tls=tls_config(settings),
                api_key=_read(settings.temporal_api_key_file),
                # The SDK's metrics join the process's own on /metrics (services/kit/temporal_metrics.py).
                runtime=temporal_runtime(),
            )
        except RuntimeError as exc:  # the core SDK reports connection failures as RuntimeError
            last = exc
            await asyncio.sleep(1.0)
    raise RuntimeError(f"Temporal at {settings.temporal_address} did not answer: {last}")


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, task_queue: str, activities: Sequence[Callable[..., Any]]
) -> AsyncIterator[Worker]:
    """Run an activity worker for the lifetime of the block; shut it down gracefully after."""
    worker = Worker(
        client,
        task_queue=task_queue,
        activities=list(activities),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    task = asyncio.create_task(worker.run(), name=f"worker:{task_queue}")
    try:
        yield worker
    finally:
        await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await task
