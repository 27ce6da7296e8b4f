"""Logs an operator can keep: at INFO a public request logs one access line; services' polls of
each other, health probes and httpx's line per outgoing request log only at DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from services.kit.telemetry import configure_logging


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root, access, httpx_log = (logging.getLogger(n) for n in ("", "uvicorn.access", "httpx"))
    saved = [
        (logger, logger.handlers[:], logger.level, logger.disabled) for logger in (root, access, httpx_log)
    ]
    for logger in (access, httpx_log):  # whatever an earlier test set, these inherit the root's level
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    stream = io.StringIO()
    yield stream
    for logger, handlers, level, disabled in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.disabled = disabled


def access(path: str) -> None:
    # uvicorn's access logger: '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", path, "1.1", 200
    )


def lines(level: str, stream: io.StringIO) -> list[str]:
    configure_logging("drafts", level=level, fmt="text")
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    access("/api/v1/drafts")
    access("/internal/v1/revocations")
    access("/readyz")
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:8000/internal/v1/revocations")
    logging.getLogger("httpx").warning("a retry")
    return stream.getvalue().splitlines()


def test_at_info_a_public_request_logs_one_line_and_polls_none(captured: io.StringIO) -> None:
    logged = lines("INFO", captured)

    assert [line for line in logged if "/api/v1/drafts" in line] != []
    assert not [line for line in logged if "/internal/" in line or "/readyz" in line]
    assert [line for line in logged if "a retry" in line] != []  # httpx warnings still show
    assert len(logged) == 2


def test_at_debug_everything_shows(captured: io.StringIO) -> None:
    logged = lines("DEBUG", captured)

    assert len([line for line in logged if "/internal/" in line]) == 2
    assert [line for line in logged if "/readyz" in line] != []
