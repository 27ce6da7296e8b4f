"""A loop that runs beside the service while it serves, and stops with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def in_background(loop: Callable[[], Coroutine[Any, Any, None]], *, name: str) -> AsyncIterator[None]:
    """Run `loop()` as a task for the lifetime of the block; cancel it (and wait) at the end."""
    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
