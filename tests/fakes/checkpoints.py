"""An in-memory `Checkpoints` store for adapter tests (the publisher keeps them in its database)."""

from __future__ import annotations


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def put(self, key: str, value: str) -> None:
        self.values[key] = value
