"""The Starlette application: routes, guards, error rendering, lifecycle."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from ..service.service import MemoryService
from .api import decisions, dreams, extractor, hooks, memory, search, sessions, system
from .api.errors import EXCEPTION_HANDLERS, InternalErrorMiddleware
from .api.routing import own_paths
from .compat import enabled_surfaces, kv
from .compat import routes as compat_routes
from .mcp.endpoint import McpEndpoint
from .security import Allowlist, GuardMiddleware
from .web import routes as web_routes


def routes() -> list[BaseRoute]:
    """The API's routes, in matching order (/openapi.json describes these).
    A route with parameters yields the paths of the routes before it (see
    api/routing.py); the memory item routes come last: they match any name
    under /api/memory/."""
    api_routes = [
        *system.routes, *decisions.routes, *dreams.routes, *sessions.routes, *hooks.routes, *extractor.routes, *search.routes,
        *kv.shared_routes,  # GET/POST /api/memory: key-value by agentId, else the native handlers
        *memory.routes,
    ]
    return own_paths([*api_routes, *memory.item_routes])


def create_app(service: MemoryService) -> Starlette:
    """The daemon's ASGI app. The service settles a crash's leftovers before
    the first request is accepted, takes the files in behind while it
    answers, and closes after the last request. (Readiness is announced by
    the server once the files are in, not here: see server.py.)"""
    config = service.config
    allowlist = Allowlist.of(config.server)
    mcp = McpEndpoint(service, allowlist)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.running():
            mcp.warm_up()  # once serving, in a worker thread, beside the start-up scan
            # The files are taken in behind: the daemon answers at once
            # (searches with what is in, writes wait; see server.py).
            await run_in_threadpool(lambda: service.start(background=True))
            try:
                yield
            finally:
                await run_in_threadpool(service.close)

    app = Starlette(
        routes=[*compat_routes(config), *routes(), *mcp.routes, *web_routes],
        middleware=[
            Middleware(InternalErrorMiddleware),
            Middleware(
                GuardMiddleware,
                token=config.server.token,
                allowed_hosts=allowlist.hosts,
                allow_origins=allowlist.origins,
                surfaces=enabled_surfaces(config),
                surface_tokens={name: getattr(config.compat, name).tokens for name in ("cf", "cfg", "kv")},
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.serving = mcp.serving  # server.py calls it once the daemon answers
    app.state.max_body_bytes = config.server.max_body_bytes
    return app
