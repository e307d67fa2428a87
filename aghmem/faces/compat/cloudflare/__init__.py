"""Cloudflare Agent Memory's HTTP API (seeds 000/001, COMPAT §1) under
/client/v4: a Starlette sub-app, so the prefix answers its own 404 (7000)
and 405 (7001) in the V4 envelope, and the guard's Surface for it."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound
from starlette.types import Receive, Scope, Send

from ....config import Config
from ...api.errors import allowed_methods
from ...json_answer import JSONResponse
from ...surface import Surface
from .envelope import failure, refuse
from .routes import routes

PREFIX = "/client/v4"


def owns(scope: Scope) -> bool:
    path = scope.get("path", "")
    return path == PREFIX or path.startswith(PREFIX + "/")


SURFACE = Surface(name="cf", owns=owns, refuse=refuse)


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return failure(405, 7001, "Method not allowed", headers={"Allow": ", ".join(allowed_methods(request))})
    if exc.status_code == 404:
        return failure(404, 7000, "No route for that URI")
    return failure(exc.status_code, 10002, f"Invalid request: {exc.detail}")


class _Inheriting:
    """The sub-app, taking the service from the daemon's app on the first
    request (scope["app"] is still the outer app when a Mount calls in)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.app.state
        if not hasattr(state, "service"):
            state.service = scope["app"].state.service
        await self.app(scope, receive, send)


class _Rest(BaseRoute):
    """Whatever else the surface owns (/client/v4 itself, a path with a
    line break the Mount's pattern does not match): 404 7000, not a
    redirect and not a native 404."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return (Match.FULL, {}) if scope["type"] == "http" and owns(scope) else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await failure(404, 7000, "No route for that URI")(scope, receive, send)


def mount(config: Config) -> list[BaseRoute]:
    """The /client/v4 sub-app, then the rest of its prefix."""
    app = Starlette(routes=routes, exception_handlers={HTTPException: on_http_exception})
    app.state.max_body_bytes = config.server.max_body_bytes
    return [Mount(PREFIX, app=_Inheriting(app)), _Rest()]
