"""`python -m services.load.chaos`: posts through the gateway while processes crash (`make chaos`).

One system started as `make run` starts it, each process on its own (services/load/stack.py).
While 200 posts go through at 20 in flight, every process in turn, spaced out, is killed with
SIGKILL and started again a few seconds later: the workflow worker, each service (its API and
its activity worker are one process), the Temporal server. Bounded: each process dies `rounds`
times, and the run stops by itself after `--max-minutes`.

At the end, counted from what the channel received (the sandbox ledger, one line per post) and
what the API shows: posts lost, published twice, stuck, and whether every process is ready.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Annotated

import typer

from services.load.driver import DEAD_ENDS, RunResult, channel_counts, run_posts
from services.load.stack import DEFAULT_POSTGRES_URL, KINDS, Stack, service_of

# The workflow worker first (the process the issue saw wedge everything), Temporal last.
VICTIMS = ("workflows", "review", "drafts", "publisher", "audit", "gateway", "temporal")


def victims(stack: Stack) -> tuple[str, ...]:
    """Every process of the stack, in VICTIMS' order (each worker before its service's API)."""

    def rank(name: str) -> tuple[int, int]:
        return VICTIMS.index(service_of(name)), 0 if "worker" in name else 1

    return tuple(sorted(stack.names, key=rank))


async def _crashes(stack: Stack, *, rounds: int, spacing: float, down: float, log: list[str]) -> None:
    started = time.monotonic()
    for round_ in range(rounds):
        for name in victims(stack):
            await asyncio.sleep(spacing)
            await asyncio.to_thread(stack.kill, name)
            log.append(f"{time.monotonic() - started:6.1f} s  kill -9 {name} (round {round_ + 1})")
            await asyncio.sleep(down)
            await asyncio.to_thread(stack.launch, name)
            log.append(f"{time.monotonic() - started:6.1f} s  restarted {name}")


async def _run(
    stack: Stack, *, posts: int, in_flight: int, rounds: int, spacing: float, down: float, max_seconds: float
) -> tuple[RunResult, list[str]]:
    log: list[str] = []
    crashes = asyncio.create_task(_crashes(stack, rounds=rounds, spacing=spacing, down=down, log=log))
    try:
        result = await run_posts(
            stack.gateway,
            posts=posts,
            in_flight=in_flight,
            deadline_seconds=max_seconds,
            total_seconds=max_seconds,
        )
    finally:
        await crashes  # every crashed process is started again before the end is counted
    return result, log


def main(
    posts: Annotated[int, typer.Option(help="posts to publish")] = 200,
    in_flight: Annotated[int, typer.Option(help="drafts in flight at once")] = 20,
    rounds: Annotated[int, typer.Option(help="how many times each process is killed")] = 1,
    spacing: Annotated[float, typer.Option(help="seconds between one restart and the next kill")] = 20.0,
    down: Annotated[float, typer.Option(help="seconds a killed process stays down")] = 3.0,
    max_minutes: Annotated[float, typer.Option(help="the run stops by itself after this")] = 15.0,
    kind: Annotated[str, typer.Option(help=f"one of {', '.join(KINDS)}")] = "sqlite",
    postgres_url: Annotated[str, typer.Option(envvar="CLEARPOST_TEST_POSTGRES_URL")] = DEFAULT_POSTGRES_URL,
) -> None:
    print(
        f"chaos: {posts} posts at {in_flight} in flight on {kind}; each process "
        f"killed -9 {rounds} time(s), {spacing:g} s apart, restarted after {down:g} s"
    )
    with Stack.start(kind, postgres_url=postgres_url) as stack:
        result, log = asyncio.run(
            _run(
                stack,
                posts=posts,
                in_flight=in_flight,
                rounds=rounds,
                spacing=spacing,
                down=down,
                max_seconds=max_minutes * 60,
            )
        )
        try:
            stack.wait_ready(stack.names, deadline_seconds=120)
        except RuntimeError as exc:
            print(f"not every process became ready again: {exc}")
        readiness = stack.readiness()
        received = sum((channel_counts(path) for path in stack.outboxes()), Counter[str]())
    print("\n".join(log))
    ids = [p.draft_id for p in result.posts]
    once = sum(1 for i in ids if i is not None and received[i] == 1)
    twice = sum(1 for i in ids if i is not None and received[i] > 1)
    # Lost: never created, ended where no post goes on (refused, failed), or shown published
    # without the channel having received it. Stuck: still on its way when the run ended.
    lost = sum(
        1
        for p in result.posts
        if p.draft_id is None
        or p.status in DEAD_ENDS
        or (p.status == "published" and received[p.draft_id] == 0)
    )
    stuck = sum(
        1
        for p in result.posts
        if p.draft_id is not None
        and p.status not in DEAD_ENDS
        and received[p.draft_id] == 0
        and p.status != "published"
    )
    print(f"\nposts: {posts} in {result.wall_seconds:.1f} s; received by the channel once: {once}")
    print(f"posts lost: {lost}")
    print(f"published twice: {twice}")
    print(f"stuck: {stuck}" + (f" ({', '.join(sorted({p.status for p in result.stuck}))})" if stuck else ""))
    ready = all(readiness.values())
    print(
        "every service ready: "
        + ("yes" if ready else "NO (" + ", ".join(n for n, ok in readiness.items() if not ok) + ")")
    )
    print(f"5xx answers (while processes were down, expected): {sum(result.server_errors.values())}")
    for route, count in result.server_errors.most_common(5):
        print(f"  {count} x {route}")
    print(f"requests with no answer (process down): {sum(result.transport_errors.values())}")
    if lost or twice or stuck or not ready:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    typer.run(main)
