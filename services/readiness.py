"""`clearpost run` says Clearpost is ready only once every service's `/readyz` answers 200 (its
database and Temporal reachable); a process that exits first stops the run with its error."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Readiness:
    ready: bool
    # Services that had not answered /readyz with 200 when the wait ended, with their last answer.
    waiting: dict[str, str]
    # The supervisor's exit code if it stopped before everything was ready.
    exited: int | None = None


def wait_until_ready(
    urls: Mapping[str, str],
    exit_code: Callable[[], int | None],
    *,
    client: httpx.Client,
    deadline_seconds: float = 180.0,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda line: None,
) -> Readiness:
    """Poll each service's `/readyz` until all answer 200, the supervisor exits, or the deadline."""
    waiting = {name: "not started" for name in urls}
    end = clock() + deadline_seconds
    announced: set[str] = set()
    while waiting:
        code = exit_code()
        if code is not None:
            return Readiness(False, waiting, exited=code)
        for name in list(waiting):
            try:
                response = client.get(f"{urls[name]}/readyz", timeout=2.0)
            except httpx.HTTPError as exc:
                waiting[name] = type(exc).__name__
                continue
            if response.status_code == 200:
                del waiting[name]
                if name not in announced:
                    announced.add(name)
                    progress(f"  {name} is ready")
            else:
                waiting[name] = f"HTTP {response.status_code}: {response.text[:200]}"
        if not waiting:
            break
        if clock() >= end:
            return Readiness(False, waiting)
        sleep(interval)
    return Readiness(True, {})
