"""The one place where aghmem errors become HTTP responses (DESIGN §10)."""

from __future__ import annotations

import logging
import secrets

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...errors import AghmemError
from ..json_answer import JSONResponse

log = logging.getLogger("aghmem.api")

STATUS = {
    "memory.validation": 400,
    "memory.unauthorized": 401,
    "memory.forbidden": 403,
    "memory.not_found": 404,
    "memory.method_not_allowed": 405,
    "memory.conflict": 409,
    "memory.too_large": 413,
    "memory.unsupported_media_type": 415,
    "memory.rejected": 422,
    "memory.rate_limited": 429,
    "memory.internal": 500,
    "memory.unsupported": 501,
    "memory.unavailable": 503,
}


def envelope(code: str, message: str, details: dict | None = None, *, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "details": details or {}},
        status_code=STATUS[code],
        headers=headers,
    )


async def on_aghmem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AghmemError)
    headers = None
    if exc.code in ("memory.rate_limited", "memory.unavailable"):
        headers = {"Retry-After": str(exc.details.get("retry_after", 60))}
    elif exc.code == "memory.unauthorized":
        headers = {"WWW-Authenticate": "Bearer"}
    return envelope(exc.code, exc.message, exc.details, headers=headers)


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return envelope("memory.not_found", f"no route {request.method} {request.url.path}")
    if exc.status_code == 405:
        allow = {"Allow": ", ".join(allowed_methods(request))}
        return envelope("memory.method_not_allowed", f"{request.method} is not allowed on {request.url.path}", headers=allow)
    if exc.status_code == 413:
        return envelope("memory.too_large", "request body is too large")
    return envelope("memory.validation", str(exc.detail))


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (RFC 9110: a 405 says
    them in Allow). Starlette's own Allow names only the first route's, and
    GET and POST /api/workspaces are two routes."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": "GET"})
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


def unexpected(method: str, path: str) -> JSONResponse:
    """The answer to a bug, called while it is being handled. The message
    is masked: internals (paths, SQL) stay in the log, keyed by an id the
    caller can quote."""
    incident = secrets.token_hex(6)
    log.exception("internal error %s on %s %s", incident, method, path)
    return envelope("memory.internal", f"internal error (incident {incident}; see the daemon log)", {"incident": incident})


class InternalErrorMiddleware:
    """The last resort for an exception no handler took: `unexpected`'s
    answer. Not Starlette's `Exception` handler, which re-raises once it
    has answered: uvicorn then logged the error a second time and closed
    the connection, so the client's next request on it failed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started:
                raise  # half an answer is out: only closing the connection can say so
            await unexpected(scope["method"], scope["path"])(scope, receive, send)


EXCEPTION_HANDLERS = {
    AghmemError: on_aghmem_error,
    HTTPException: on_http_exception,
}
