"""The Starlette application: routes, guards, error rendering, lifecycle."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from ..service.service import MemoryService
from .api import decisions, dreams, extractor, hooks, memory, search, sessions, system
from .api.errors import EXCEPTION_HANDLERS
from .mcp.endpoint import McpEndpoint
from .security import Allowlist, GuardMiddleware
from .web import routes as web_routes


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
            mcp.warm_up()  # in a worker thread, beside the start-up scan
            # The files are taken in behind: the daemon answers at once
            # (searches with what is in, writes wait; see server.py).
            await run_in_threadpool(lambda: service.start(background=True))
            try:
                yield
            finally:
                await run_in_threadpool(service.close)

    api_routes = [*system.routes, *decisions.routes, *dreams.routes, *sessions.routes, *hooks.routes, *extractor.routes, *search.routes, *memory.routes]
    memory.own_item_paths(api_routes)
    app = Starlette(
        routes=[*api_routes, *memory.item_routes, *mcp.routes, *web_routes],
        middleware=[
            Middleware(
                GuardMiddleware,
                token=config.server.token,
                allowed_hosts=allowlist.hosts,
                allow_origins=allowlist.origins,
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.max_body_bytes = config.server.max_body_bytes
    return app
