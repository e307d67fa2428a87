"""/mcp and /w/{workspace}/mcp in the daemon's app: the MCP server, built
once, after the daemon serves.

Importing the MCP SDK costs about a second of CPU. Paid at start-up it
would delay every daemon's readiness (and the API's first answer) by as
much, so the app starts without it: once the daemon serves and has taken
its files in, a warm-up imports the SDK in a worker thread and builds the
server; an
MCP request that comes before that builds it or waits for it (with
mcp.warm_up off, or an app run without server.py's `serving` call, the
first MCP request builds it). Until then a plain `initialize` is answered
without it (handshake.py), so an agent's first message is answered at once
after a start. The session manager's `run()` is
entered once, in a task group the daemon's lifespan owns (a mounted app's
own lifespan never runs).

The routes are exact, not a catch-all `Mount("/")`: a mount at the root
would take every unknown path and method from the API's 404 and 405.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
from typing import TYPE_CHECKING, Any, AsyncIterator

import anyio
from anyio.abc import TaskGroup, TaskStatus
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ...errors import Unavailable
from ...service.service import MemoryService
from ..security import Allowlist
from . import handshake

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
        """The server listens and answers: the warm-up may begin once the
        files are in. Not sooner: its second of CPU would share the GIL with
        the start, and hold the daemon's first answers and its readiness back
        as long (measured in bench_start); an agent's handshake is answered
        without it meanwhile (handshake.py)."""
        if self._serving is not None:
            self._serving.set()

    async def _warm(self) -> None:
        try:
            assert self._serving is not None
            await self._serving.wait()
            while not self.service.ready.is_set():
                await anyio.sleep(0.1)
            await self.ready()
            # The SDK and the server live as long as the daemon: out of the
            # cyclic collector's sight, like start-up's objects (server.py).
            # Left in it, its ~84k objects made every full collection a
            # 45-80 ms pause in whatever request met it.
            gc.freeze()
        except Unavailable:
            pass  # the daemon stopped while the server was built: nothing to serve
        except Exception:  # the daemon serves on; an MCP request will try again, and answer 500
            log.exception("could not build the MCP server")

    async def ready(self) -> McpFace:
        async with self._lock:
            if self.face is None:
                server = await anyio.to_thread.run_sync(importlib.import_module, f"{__package__}.server")
                face = server.create_mcp(self.service, self.allowlist)
                if self._tasks is None:  # the daemon stopped meanwhile (or never entered running())
                    raise Unavailable("the daemon is stopping: MCP is not served")
                await self._tasks.start(_run_manager, face)
                self.face = face
        return self.face

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.face is None and scope["method"] == "POST":
            # Before the SDK is built, a plain `initialize` is answered here
            # (handshake.py); anything else waits for the server.
            body, whole = await _body(receive, self.service.config.server.max_body_bytes)
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            answer = handshake.initialize_answer(headers, body) if whole else None
            if answer is not None:
                await JSONBytes(answer)(scope, receive, send)
                return
            receive = _replay(body, whole, receive)
        face = self.face or await self.ready()
        await face.endpoint(scope, receive, send)


class JSONBytes(Response):
    media_type = "application/json"


async def _body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request's body and whether that is all of it: reading stops past
    `limit` bytes (the SDK refuses such a body) or at a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, whole: bool, receive: Receive) -> Receive:
    """`receive` as if the body read so far had not been read."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return replayed


async def _run_manager(face: Any, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    async with face.session_manager.run():
        task_status.started()
        await anyio.sleep_forever()
