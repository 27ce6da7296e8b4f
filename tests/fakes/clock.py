"""One clock for an adapter under test and its network fake: `sleep` records the wait and moves
time on, so rate-limit waits and polls take no real time."""

from __future__ import annotations


class ManualClock:
    """Time for the adapter and the fake alike: `sleep` records the wait and moves time on."""

    def __init__(self) -> None:
        self.value = 1_800_000_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.value

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.value += max(seconds, 0)
