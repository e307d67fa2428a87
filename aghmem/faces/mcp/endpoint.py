"""/mcp and /w/{workspace}/mcp in the daemon's app: the MCP server, built
once, after the daemon serves.

Importing the MCP SDK costs about a second of CPU. Paid at start-up it
would delay every daemon's readiness (and the API's first answer) by as
much, so the app starts without it: once the daemon serves, a warm-up
imports the SDK in a worker thread (beside the start-up scan, which waits
on files, SQLite and tantivy much of the time) and builds the server; an
MCP request that comes before that builds it or waits for it (with
mcp.warm_up off, or an app run without server.py's `serving` call, the
first MCP request builds it). The session manager's `run()` is
entered once, in a task group the daemon's lifespan owns (a mounted app's
own lifespan never runs).

The routes are exact, not a catch-all `Mount("/")`: a mount at the root
would take every unknown path and method from the API's 404 and 405.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator

import anyio
from anyio.abc import TaskGroup, TaskStatus
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ...service.service import MemoryService
from ..security import Allowlist

if TYPE_CHECKING:
    from .server import McpFace

log = logging.getLogger("aghmem.mcp")


class McpEndpoint:
    """The ASGI endpoint behind the MCP routes."""

    def __init__(self, service: MemoryService, allowlist: Allowlist) -> None:
        self.service = service
        self.allowlist = allowlist
        self.face: McpFace | None = None
        self._lock = anyio.Lock()
        self._tasks: TaskGroup | None = None
        self._serving: anyio.Event | None = None

    @property
    def routes(self) -> list[Route]:
        return [Route("/mcp", endpoint=self), Route("/w/{workspace:path}/mcp", endpoint=self)]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Hold the task group the session manager runs in; the daemon's
        lifespan enters this around everything else."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            self._serving = anyio.Event()
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    def warm_up(self) -> None:
        """Build the server in the background once the daemon serves
        (`serving`), unless mcp.warm_up is off: then the first MCP request
        builds it."""
        assert self._tasks is not None, "enter running() first"
        if self.service.config.mcp.warm_up:
            self._tasks.start_soon(self._warm)

    def serving(self) -> None:
        """The server listens and answers: the warm-up may begin. Not sooner:
        its second of CPU would share the GIL with the start itself, and hold
        the daemon's first answers back as long (measured in bench_start)."""
        if self._serving is not None:
            self._serving.set()

    async def _warm(self) -> None:
        try:
            assert self._serving is not None
            await self._serving.wait()
            await self.ready()
        except Exception:  # the daemon serves on; an MCP request will try again, and answer 500
            log.exception("could not build the MCP server")

    async def ready(self) -> McpFace:
        async with self._lock:
            if self.face is None:
                server = await anyio.to_thread.run_sync(importlib.import_module, f"{__package__}.server")
                face = server.create_mcp(self.service, self.allowlist)
                assert self._tasks is not None, "the MCP endpoint serves only inside running()"
                await self._tasks.start(_run_manager, face)
                self.face = face
        return self.face

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        face = self.face or await self.ready()
        await face.endpoint(scope, receive, send)


async def _run_manager(face: Any, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    async with face.session_manager.run():
        task_status.started()
        await anyio.sleep_forever()
