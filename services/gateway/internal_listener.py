"""The gateway's /internal routes only on its internal listener, when it has one.

With CLEARPOST_GATEWAY_INTERNAL_PORT set, `clearpost serve gateway` listens on two ports: the
public one (what an Ingress or a load balancer forwards to) and the internal one (what the other
services poll the revocation list on). A request for `/internal/...` that came in on any other
port than the internal one is answered 404, exactly like an unknown path, so the public listener
shows no internal route at all. Without the setting (`make run`, one machine) both are one port,
as before, and the routes stay behind each service's own credential either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.errors import send_error

INTERNAL_PREFIX = "/internal"


class InternalRoutesOffThePublicPort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _internal(scope["path"]) and not _on_internal_port(scope):
            await send_error(send, 404, "not_found", "Not Found")
            return
        await self.app(scope, receive, send)


def _internal(path: str) -> bool:
    return path == INTERNAL_PREFIX or path.startswith(INTERNAL_PREFIX + "/")


def _on_internal_port(scope: Scope) -> bool:
    settings = getattr(scope["app"].state, "settings", None) if "app" in scope else None
    port = getattr(settings, "gateway_internal_port", None)
    if port is None:
        return True  # one listener: nothing to tell apart
    server = scope.get("server")
    return server is not None and server[1] == port
