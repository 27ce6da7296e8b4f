"""A loopback receiver for the publisher's webhook channel, behaving as a careful real one should.

It recomputes the HMAC-SHA256 signature (401 when it does not match), keeps each post once per
`Idempotency-Key` (a repeat gets 409 with the id it gave the first time) and answers 201 `{"id"}`.
Tests can script the next answers (`answer_next`) or hold every answer until released (`hold`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedPost:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class WebhookReceiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.requests: list[ReceivedPost] = []  # every request, accepted or not
        self.accepted: dict[str, tuple[str, ReceivedPost]] = {}  # idempotency key -> (id, post)
        self._scripted: deque[tuple[int, bytes]] = deque()
        self._release: threading.Event | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = receiver._receive({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/clearpost"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def answer_next(self, status: int, body: bytes = b"") -> None:
        """The next request gets this answer, whatever it holds (and is not kept)."""
        with self._lock:
            self._scripted.append((status, body))

    def hold(self) -> None:
        """Answer nothing until `release()`: a receiver that hangs."""
        self._release = threading.Event()

    def release(self) -> None:
        if self._release is not None:
            self._release.set()

    def posts(self) -> list[ReceivedPost]:
        """The posts it accepted, oldest first."""
        with self._lock:
            return [post for _, post in self.accepted.values()]

    def _signature_ok(self, headers: dict[str, str], body: bytes) -> bool:
        timestamp = headers.get("x-clearpost-timestamp", "")
        expected = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("x-clearpost-signature", ""), f"sha256={expected}")

    def _receive(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        post = ReceivedPost(headers, body, self._signature_ok(headers, body))
        if self._release is not None:
            self._release.wait(timeout=30)
        with self._lock:
            self.requests.append(post)
            if self._scripted:
                return self._scripted.popleft()
            if not post.signature_ok:
                return 401, b'{"error": "bad signature"}'
            key = headers.get("idempotency-key", "")
            if key in self.accepted:
                return 409, json.dumps({"id": self.accepted[key][0]}).encode()
            given = f"rcv-{len(self.accepted) + 1}"
            self.accepted[key] = (given, post)
            return 201, json.dumps({"id": given}).encode()
