"""The Starlette application: routes, guards, error rendering, lifecycle."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from ..service.service import MemoryService
from .api import decisions, dreams, extractor, memory, search, sessions, system
from .api.errors import EXCEPTION_HANDLERS
from .api.routing import own_paths
from .security import GuardMiddleware


def routes() -> list[BaseRoute]:
    """Every route, in matching order (/openapi.json describes these). A
    route with parameters yields the paths of the routes before it (see
    api/routing.py); the memory item routes come last: they match any name
    under /api/memory/."""
    api_routes = [*system.routes, *decisions.routes, *dreams.routes, *sessions.routes, *extractor.routes, *search.routes, *memory.routes]
    return own_paths([*api_routes, *memory.item_routes])


def create_app(service: MemoryService) -> Starlette:
    """The daemon's ASGI app. The service starts (recovery, scan) before the
    first request is accepted, and closes after the last one. (Readiness is
    announced by the server once it serves, not here: see server.py.)"""
    config = service.config

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    allowed_hosts = [*config.server.allowed_hosts]
    if config.server.host not in ("0.0.0.0", "::"):
        allowed_hosts.append(config.server.host)
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(
                GuardMiddleware,
                token=config.server.token,
                allowed_hosts=allowed_hosts,
                allow_origins=config.server.allow_origins,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.max_body_bytes = config.server.max_body_bytes
    return app
