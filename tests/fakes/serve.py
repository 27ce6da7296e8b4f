"""Run an ASGI app (a network fake) on a real loopback port, in a thread, for one test or module."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServedApp:
    """`with ServedApp(app) as served:` serves `app` at `served.url` until the block ends."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1") -> None:
        with socket.socket() as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self.host = host
        self.app = app
        # No log_config or log_level: uvicorn would otherwise reconfigure the process's `uvicorn.*`
        # loggers (levels, handlers) for every test that runs after this one.
        config = uvicorn.Config(
            app, host=host, port=self.port, log_config=None, log_level=None, access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
