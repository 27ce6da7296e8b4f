"""`python -m services.load.bench`: the whole pipeline under load, against bare Temporal (`make bench`).

For each database (SQLite, then PostgreSQL when one answers), one system started as `make run`
starts it (services/load/stack.py), and in that one run:

1. the bare workflow of the same shape (services/load/bare.py) at N in flight and at 1;
2. the pipeline through the public gateway API (services/load/driver.py) at N in flight and at 1;
3. posts/s and per-post p50/p95 for each, the ratio pipeline/bare (goal >= 0.6), approve ->
   visible p95 against the bare update p95 (goal <= 2x), and the CPU-seconds each process used
   during the pipeline run at N in flight (where the time goes; docs/performance.md goes further).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from services.load import profiles
from services.load.bare import BareResult, run_bare
from services.load.driver import RunResult, channel_counts, run_posts
from services.load.stack import DEFAULT_POSTGRES_URL, Stack, port_answers

RATIO_GOAL = 0.6
VISIBLE_GOAL = 2.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    return {name: cpu_seconds(stack.processes[name].pid) for name in stack.names}


@dataclass
class KindReport:
    kind: str
    bare_many: BareResult
    bare_one: BareResult
    pipeline_many: RunResult
    pipeline_one: RunResult
    cpu: dict[str, float]
    twice: int


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def print_report(report: KindReport, in_flight: int) -> None:
    many, one = report.pipeline_many, report.pipeline_one
    bare_many, bare_one = report.bare_many, report.bare_one
    print(f"\n== {report.kind} ==")
    print(f"{'':34} {'posts':>6} {'posts/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    rows = (
        (f"bare Temporal, {in_flight} in flight", len(bare_many.seconds), bare_many),
        ("bare Temporal, 1 in flight", len(bare_one.seconds), bare_one),
        (f"pipeline, {in_flight} in flight", len(many.published), many),
        ("pipeline, 1 in flight", len(one.published), one),
    )
    for label, count, result in rows:
        print(
            f"{label:34} {count:>6} {result.posts_per_second:>8.2f} "
            f"{_ms(result.latency(50)):>8} {_ms(result.latency(95)):>8}"
        )
    ratio = many.posts_per_second / bare_many.posts_per_second
    ratio_one = one.posts_per_second / bare_one.posts_per_second
    visible, update = many.approve_visible(95), bare_many.update(95)
    visible_one, update_one = one.approve_visible(95), bare_one.update(95)
    print(
        f"throughput ratio pipeline/bare: {ratio:.2f} at {in_flight} in flight, {ratio_one:.2f} at 1 "
        f"(goal >= {RATIO_GOAL}) {'met' if ratio >= RATIO_GOAL else 'NOT met'}"
    )
    print(
        f"approve -> visible p95 {_ms(visible)} ms vs raw update p95 {_ms(update)} ms: "
        f"{visible / update:.1f}x at {in_flight} in flight; {_ms(visible_one)} vs {_ms(update_one)} ms: "
        f"{visible_one / update_one:.1f}x at 1 (goal <= {VISIBLE_GOAL:g}x) "
        f"{'met' if visible / update <= VISIBLE_GOAL else 'NOT met'}"
    )
    stuck = len(many.stuck) + len(one.stuck)
    errors = sum(many.server_errors.values()) + sum(one.server_errors.values())
    print(f"stuck posts: {stuck}; 5xx answers: {errors}; published twice: {report.twice}")
    for route, count in (many.server_errors + one.server_errors).most_common(5):
        print(f"  {count} x {route}")
    per_post = ", ".join(
        f"{route} {count / len(many.posts):.1f}" for route, count in many.requests.most_common()
    )
    print(f"API requests per post at {in_flight} in flight: {per_post}")
    total = sum(report.cpu.values())
    by_process = sorted(report.cpu.items(), key=lambda item: -item[1])
    print(
        f"CPU-seconds during the {in_flight}-in-flight run ({many.wall_seconds:.1f} s wall, "
        f"{total:.1f} CPU-s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in by_process)
    )


async def _measure(
    stack: Stack, *, posts: int, in_flight: int, serial_posts: int, profile_dir: Path | None = None
) -> KindReport:
    bare_many = await run_bare(stack.temporal_address, posts=posts, in_flight=in_flight)
    bare_one = await run_bare(stack.temporal_address, posts=serial_posts, in_flight=1)
    sampler = None
    if profile_dir is not None:
        pids = {name: stack.processes[name].pid for name in stack.names if name != "temporal"}
        sampler = profiles.Sampler(profile_dir, pids)
    before = cpu_snapshot(stack)
    pipeline_many = await run_posts(stack.gateway, posts=posts, in_flight=in_flight)
    after = cpu_snapshot(stack)
    if sampler is not None:
        sampler.stop()
    pipeline_one = await run_posts(stack.gateway, posts=serial_posts, in_flight=1)
    ids = {p.draft_id for p in pipeline_many.posts + pipeline_one.posts}
    received = sum((channel_counts(path) for path in stack.outboxes()), Counter[str]())
    twice = sum(1 for draft_id, n in received.items() if draft_id in ids and n > 1)
    return KindReport(
        kind=stack.kind,
        bare_many=bare_many,
        bare_one=bare_one,
        pipeline_many=pipeline_many,
        pipeline_one=pipeline_one,
        cpu={name: after[name] - before[name] for name in stack.names},
        twice=twice,
    )


def postgres_answers(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("+asyncpg", ""))
    return port_answers(parts.hostname or "127.0.0.1", parts.port or 5432)


def main(
    posts: Annotated[int, typer.Option(help="posts per run at --in-flight")] = 60,
    in_flight: Annotated[int, typer.Option(help="drafts in flight at once")] = 20,
    serial_posts: Annotated[int, typer.Option(help="posts driven one at a time")] = 10,
    kinds: Annotated[
        str, typer.Option(help="comma-separated: sqlite, postgresql, cluster, cluster-2x (infra/'s shape)")
    ] = "sqlite,postgresql,cluster,cluster-2x",
    postgres_url: Annotated[str, typer.Option(envvar="CLEARPOST_TEST_POSTGRES_URL")] = DEFAULT_POSTGRES_URL,
    profile: Annotated[
        Path | None,
        typer.Option(help="sample every Python process with py-spy during the run at --in-flight"),
    ] = None,
) -> None:
    print(
        f"pipeline bench: {posts} posts at {in_flight} in flight and {serial_posts} at 1, through the "
        "gateway API, against a bare Temporal workflow of the same shape on the same dev server"
    )
    failed = False
    for kind in kinds.split(","):
        if kind != "sqlite" and not postgres_answers(postgres_url):
            print(f"\n== {kind} == skipped: nothing answers at {postgres_url}")
            continue
        profile_dir = profile / kind if profile else None
        with Stack.start(kind, postgres_url=postgres_url) as stack:
            report = asyncio.run(
                _measure(
                    stack,
                    posts=posts,
                    in_flight=in_flight,
                    serial_posts=serial_posts,
                    profile_dir=profile_dir,
                )
            )
        print_report(report, in_flight)
        if profile_dir is not None:
            print(profiles.report(profile_dir))
        failed |= bool(report.pipeline_many.stuck or report.pipeline_one.stuck)
    sys.stdout.flush()
    if failed:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    typer.run(main)
