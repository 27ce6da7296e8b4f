"""Request limits every service applies before any route runs: the size of a request body.

An oversized body is refused with 413 whether its size is declared up front (Content-Length) or
only discovered while it streams in; a malformed Content-Length is a 400. Whatever a route then
does with a body it cannot parse is its own 422, never a 500.
"""

from __future__ import annotations

import json

from pydantic_settings import SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import PayloadTooLarge, error_body
from services.kit.settings import KitSettings

# Largest JSON or form body a service accepts.
MAX_BODY_BYTES = 1024 * 1024
# Largest multipart upload (an image is at most 10 MiB, plus the multipart framing).
MAX_UPLOAD_BYTES = 11 * 1024 * 1024


class LimitSettings(KitSettings):
    """CLEARPOST_MAX_BODY_BYTES, CLEARPOST_MAX_UPLOAD_BYTES, CLEARPOST_REVOCATION_REFRESH_SECONDS."""

    model_config = SettingsConfigDict(env_prefix="CLEARPOST_", extra="ignore")

    max_body_bytes: int = MAX_BODY_BYTES
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    # How often every service re-reads the gateway's list of deactivated users (see kit/auth.py).
    revocation_refresh_seconds: float = 2.0


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, whether declared up front or streamed.

    multipart/form-data (uploads) gets `max_upload_bytes`, everything else `max_bytes`.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_upload_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes if max_upload_bytes is not None else max_bytes

    def _limit_for(self, headers: dict[bytes, bytes]) -> int:
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        return self.max_upload_bytes if content_type == b"multipart/form-data" else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        limit = self._limit_for(headers)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._reply(send, 400, error_body("bad_request", "invalid Content-Length"))
                return
            if int(declared) > limit:
                await self._reply(send, 413, self._too_large(limit))
                return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLarge(self._too_large(limit)["detail"])
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Once the limit is hit, whatever the app answers (FastAPI turns a body read failure into
            # 400) is replaced by our 413 below.
            if exceeded and not started:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLarge:
            if started:
                raise
        if exceeded and not started:
            await self._reply(send, 413, self._too_large(limit))

    @staticmethod
    def _too_large(limit: int) -> dict[str, str]:
        return error_body("payload_too_large", f"request body exceeds {limit} bytes")

    @staticmethod
    async def _reply(send: Send, status: int, body: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
