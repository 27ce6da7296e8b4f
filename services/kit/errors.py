"""The one error type services raise, and the handlers that turn it into `{"error", "detail"}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Send

from services.kit.routes import allow_header, declared_methods


class ClearpostError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ClearpostError):
    status_code = 400
    code = "bad_request"


class Unauthorized(ClearpostError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ClearpostError):
    status_code = 403
    code = "forbidden"


class NotFound(ClearpostError):
    status_code = 404
    code = "not_found"


class MethodNotAllowed(ClearpostError):
    """A method the path does not declare; `allow` lists the ones it does (the Allow header)."""

    status_code = 405
    code = "method_not_allowed"

    def __init__(self, allow: str) -> None:
        super().__init__("Method Not Allowed")
        self.allow = allow


class Conflict(ClearpostError):
    status_code = 409
    code = "conflict"


class Unprocessable(ClearpostError):
    status_code = 422
    code = "invalid"


class PayloadTooLarge(ClearpostError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ClearpostError):
    status_code = 415
    code = "unsupported_media_type"


class TooManyAttempts(ClearpostError):
    """Too many failed attempts (wrong passwords) for an account or from an address; `retry_after`
    seconds, when known, become the Retry-After header."""

    status_code = 429
    code = "too_many_attempts"
    retry_after: int | None = None


class UpstreamUnavailable(ClearpostError):
    status_code = 503
    code = "upstream_unavailable"


def error_body(code: str, detail: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail}


async def send_error(send: Send, status: int, code: str, detail: str) -> None:
    """Answer with the one error shape from plain ASGI code (a middleware in front of the app)."""
    await JSONResponse(error_body(code, detail), status_code=status)({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


async def _clearpost_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClearpostError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, MethodNotAllowed):
        headers = {"Allow": exc.allow}
    return JSONResponse(error_body(exc.code, exc.detail), status_code=exc.status_code, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return JSONResponse(error_body("invalid", problems), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names the methods of the first route that matched the path; Allow names them all.
        allow = allow_header(declared_methods(request.app.router.routes, request.scope))
        headers = {**(exc.headers or {}), "Allow": allow}
    return JSONResponse(error_body(code, exc.detail), status_code=exc.status_code, headers=headers)


async def _database_busy(_: Request, exc: Exception) -> JSONResponse:
    # No connection came free within the pool timeout: the service is overloaded for now, and
    # says so (a retry is safe), rather than answering a bare 500.
    return JSONResponse(
        error_body("database_busy", "the database is busy; try again shortly"),
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClearpostError, _clearpost_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_busy)
