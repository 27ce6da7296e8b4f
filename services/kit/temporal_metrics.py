"""The Temporal SDK's own metrics (workers, polls, task latencies) on the process's one `/metrics`.

The SDK's core records its metrics into a `MetricBuffer` (one per process, set on the Runtime every
client of the process connects with); `TemporalMetrics` drains it and keeps the totals as a
prometheus-client collector. The SDK could serve Prometheus itself (`PrometheusConfig`), but on a
port of its own: a second scrape target per process, unprotected, and one more port to open on every
host. Forwarded, Temporal's series come with the service's, under the same scrape credential.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

from prometheus_client.core import Metric
from prometheus_client.registry import REGISTRY, Collector
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BufferedMetricUpdate,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)

# Large, as the SDK asks; drained at every scrape and every DRAIN_SECONDS in between, scraped or not.
BUFFER_SIZE = 50_000
DRAIN_SECONDS = 5.0
# Seconds: the SDK's task latencies run from milliseconds (a poll) to minutes (schedule-to-start
# when no worker polls).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# The same on every series of a process; Prometheus's job and instance labels say which it is.
DROPPED_ATTRIBUTES = ("service_name",)

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.count += 1


@dataclass
class _Family:
    name: str
    kind: str  # counter | gauge | histogram
    documentation: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)


def _labels(attributes: dict[str, str | int | float | bool]) -> Labels:
    return tuple(
        sorted(
            (key, str(value).lower() if isinstance(value, bool) else str(value))
            for key, value in attributes.items()
            if key not in DROPPED_ATTRIBUTES
        )
    )


class TemporalMetrics(Collector):
    """Cumulative counters, last gauge values and bucketed histograms of the SDK's updates."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self._families: dict[str, _Family] = {}
        self._lock = threading.Lock()

    def record(self, updates: Sequence[BufferedMetricUpdate]) -> None:
        with self._lock:
            for update in updates:
                metric = update.metric
                family = self._families.get(metric.name)
                if family is None:
                    if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                        kind, name = "counter", metric.name
                    elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                        kind, name = "gauge", metric.name
                    else:
                        seconds = metric.unit in ("s", "duration")
                        kind, name = "histogram", f"{metric.name}_seconds" if seconds else metric.name
                    family = _Family(name, kind, metric.description or f"Temporal SDK: {metric.name}")
                    self._families[metric.name] = family
                labels = _labels(dict(update.attributes))
                if family.kind == "counter":
                    family.values[labels] = family.values.get(labels, 0.0) + update.value
                elif family.kind == "gauge":
                    family.values[labels] = float(update.value)
                else:
                    family.histograms.setdefault(labels, _Histogram()).observe(float(update.value))

    def drain(self) -> None:
        """Move what the SDK buffered into the totals (the buffer must not fill up)."""
        self.record(self._buffer.retrieve_updates())

    def collect(self) -> Iterator[Metric]:
        self.drain()
        with self._lock:
            for family in self._families.values():
                metric = Metric(family.name, family.documentation, family.kind)
                if family.kind == "counter":
                    for labels, value in family.values.items():
                        metric.add_sample(f"{family.name}_total", dict(labels), value)
                elif family.kind == "gauge":
                    for labels, value in family.values.items():
                        metric.add_sample(family.name, dict(labels), value)
                else:
                    for labels, histogram in family.histograms.items():
                        cumulative = 0
                        for bound, count in zip((*BUCKETS, float("inf")), histogram.buckets, strict=True):
                            cumulative += count
                            le = "+Inf" if bound == float("inf") else repr(bound)
                            metric.add_sample(f"{family.name}_bucket", {**dict(labels), "le": le}, cumulative)
                        metric.add_sample(f"{family.name}_count", dict(labels), histogram.count)
                        metric.add_sample(f"{family.name}_sum", dict(labels), histogram.total)
                yield metric


@cache
def temporal_runtime() -> Runtime:
    """The process's one Temporal runtime, its metrics forwarded to the default registry."""
    buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    collector = TemporalMetrics(buffer)
    REGISTRY.register(collector)

    def drain_forever() -> None:
        while True:
            time.sleep(DRAIN_SECONDS)
            collector.drain()

    threading.Thread(target=drain_forever, name="temporal-metrics", daemon=True).start()
    return runtime
