"""Tracing and logs for every process: one trace from the gateway request into each activity.

Spans are always created (so every log line carries a trace id); they leave the process only
when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.ext.asyncio import AsyncEngine

_provider: TracerProvider | None = None

# Query parameters whose values identify a patient (the consent search's `patient_ref`). Their values
# never reach an access log line, a logged upstream call or a span's URL attributes, whichever route
# and whichever process: `REDACTED` stands in (the search itself has a POST form for that reason).
SENSITIVE_QUERY_PARAMETERS = ("patient_ref",)
REDACTED = "REDACTED"
_SENSITIVE_QUERY = re.compile(
    r"([?&](?:"
    + "|".join(re.escape(p).replace("_", "(?:_|%5[fF])") for p in SENSITIVE_QUERY_PARAMETERS)
    + r")=)[^&#\s\"']*",
    re.IGNORECASE,
)
# The span attributes that carry a request's URL or query (old and stable HTTP semantic conventions).
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query", "http.request.uri")


def redact_query(text: str) -> str:
    """The text with the value of every sensitive query parameter replaced by REDACTED."""
    return _SENSITIVE_QUERY.sub(rf"\g<1>{REDACTED}", text) if "=" in text else text


def _redacted_query(text: str) -> str:
    # `url.query` holds the query without its leading "?".
    return redact_query(f"?{text}")[1:]


def redact_span_urls(span: Span | trace.Span) -> None:
    """Rewrite a recording span's URL attributes without their sensitive query values."""
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            redacted = _redacted_query(value) if key == "url.query" else redact_query(value)
            if redacted != value:
                span.set_attribute(key, redacted)


class RedactSensitiveQueries(SpanProcessor):
    """Redacts every span's URL attributes as it starts (the HTTP client spans set theirs then);
    the server spans, whose instrumentation sets them again after the start, are redacted by
    `instrument_app`'s request hook."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        redact_span_urls(span)


def _redact_server_span(span: trace.Span, scope: dict[str, Any]) -> None:
    if span.is_recording():
        redact_span_urls(span)


def exporting() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup_tracing(process: str, *, extra_processor: SpanProcessor | None = None) -> TracerProvider:
    """Install the process-wide tracer provider once; later calls return the same one."""
    global _provider
    if _provider is not None:
        if extra_processor is not None:
            _provider.add_span_processor(extra_processor)
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": f"clearpost-{process}"}))
    # First, so every later processor and exporter sees the redacted URL.
    provider.add_span_processor(RedactSensitiveQueries())
    if exporting():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    _provider = provider
    return provider


def instrument_app(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
        server_request_hook=_redact_server_span,
    )


def instrument_engine(engine: AsyncEngine) -> None:
    instrumentor = SQLAlchemyInstrumentor()
    # The instrumentor is a per-process singleton: a second instrument() only warns. A service
    # process has exactly one engine; in a process with several (tests, `make bench`) the first
    # one is traced.
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(engine=engine.sync_engine, enable_commenter=False)


def current_trace_id() -> str | None:
    """The trace the current code runs in (one per gateway request, followed into every service)."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.force_flush()


class _TraceContext(logging.Filter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        record.service = self._process
        record.trace_id = format(context.trace_id, "032x") if context.is_valid else None
        record.span_id = format(context.span_id, "016x") if context.is_valid else None
        return True


class _RedactQueries(logging.Filter):
    """Sensitive query values out of every log line: uvicorn's access log (`"GET /path?query"`) and
    httpx's log of each outgoing request both carry the whole URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query(str(arg)) if isinstance(arg, str) or type(arg).__name__ == "URL" else arg
                for arg in record.args
            )
        return True


# Requests an operator does not need a line for at the default level: services' polls of each other
# (the revocation list every few seconds, key sets, channel states) and probes.
QUIET_PATHS = ("/internal/", "/healthz", "/readyz", "/metrics")


class _QuietRoutine(logging.Filter):
    """Access lines of internal calls and health probes, and httpx's line per outgoing request,
    are debug-level: at INFO a public request logs one line and a poll logs none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        if record.name == "httpx" and record.levelno <= logging.INFO:
            return False
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) >= 3:
            path = str(record.args[2])
            return not any(path.startswith(quiet) for quiet in QUIET_PATHS)
        return True


def configure_logging(process: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Root logging for a process: JSON lines with service, trace_id and span_id (or plain text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContext(process))
    handler.addFilter(_QuietRoutine())
    handler.addFilter(_RedactQueries())
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s [%(service)s %(trace_id)s] %(name)s: %(message)s"
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # Whatever configured them before (an earlier uvicorn.Config, a library's fileConfig),
        # they follow the root's level and filters from here on.
        logger.setLevel(logging.NOTSET)
        logger.disabled = False


def log_extra(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call: `log.info("refused", extra=log_extra(reason=...))`."""
    return fields
