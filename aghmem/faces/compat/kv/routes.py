"""The key-value routes (seed 003, COMPAT.md §3): the dispatchers of GET
and POST /api/memory (key-value by `agentId`, else the native handlers
unchanged) and the alias /compat/kv/api/memory (always key-value).

Errors of the key-value branch are `{"error": …}` with the seed's messages,
rendered in one place (`kv_errors`). What fails before a branch is known
(a body over the cap, not JSON) is answered in the native envelope on the
shared path, and in the seed's on the alias.
"""

from __future__ import annotations

import functools
import logging
from typing import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ....errors import AghmemError, Rejected, Unauthorized, ValidationError
from ....service.service import MemoryService
from ...api.contract import contract
from ...api.errors import STATUS
from ...api.memory import WRITE_ERRORS, list_memories, write_memory
from ...api.parsing import read_json
from ...api.payloads.queries import PAGE_QUERY
from ...json_answer import JSONResponse
from ...surface import NATIVE, grants
from . import schema
from .surface import ALIAS, NAME, SHARED, error

log = logging.getLogger("aghmem.kv")
# The body keys that make a POST /api/memory a key-value one.
KV_KEYS = ("agentId", "key", "memory")
Handler = Callable[[Request], Awaitable[Response]]


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _enabled(request: Request) -> bool:
    return _service(request).config.compat.kv.enabled


def render_error(exc: AghmemError) -> JSONResponse:
    """An aghmem error in the seed's shape: 400 for what the seed calls
    unacceptable data (a controller rejection included, Q32)."""
    if isinstance(exc, Rejected):
        return error(400, f"memory rejected: {exc.message}")
    status = STATUS.get(exc.code, 500)
    headers = {"Retry-After": str(exc.details.get("retry_after", 60))} if exc.code in ("memory.rate_limited", "memory.unavailable") else None
    if exc.code == "memory.unauthorized":
        headers = {"WWW-Authenticate": "Bearer"}
        return error(401, "Unauthorized", headers)
    return error(status, exc.message, headers)


def kv_errors(failure: str) -> Callable[[Handler], Handler]:
    """Render the branch's errors as the seed does; anything unexpected is
    500 with the seed's message (the cause goes to the log)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except AghmemError as exc:
                return render_error(exc)
            except Exception:  # noqa: BLE001 - the seed's 500, the cause logged
                log.exception("key-value %s %s failed", request.method, request.url.path)
                return error(500, failure)

        return guarded

    return wrap


def _check_granted(request: Request, branch: str) -> None:
    if branch not in grants(request.scope):
        raise Unauthorized("missing or wrong bearer token (send Authorization: Bearer <token>)")


@kv_errors("Failed to fetch memory")
async def kv_get(request: Request) -> Response:
    """GET: one agent's keys, or every agent's (`all`, empty, or omitted on the alias)."""
    _check_granted(request, NAME)
    if request.url.path == SHARED:
        mixed = sorted(set(request.query_params) & set(PAGE_QUERY))
        if mixed:
            raise ValidationError(f"agentId cannot be combined with {', '.join(mixed)}")
    agent_id = request.query_params.get("agentId")
    return JSONResponse(await run_in_threadpool(_service(request).kv_read, agent_id))


@kv_errors("Failed to save memory")
async def kv_post(request: Request) -> Response:
    """POST: one key (`key` given) or several (`memory` an object of keys).
    The dispatcher leaves the body it read on `request.state.kv_body`."""
    _check_granted(request, NAME)
    body = getattr(request.state, "kv_body", None)
    if body is None:
        body = await read_json(request, cap=_service(request).config.compat.kv.max_body_bytes)
    return JSONResponse(await run_in_threadpool(_service(request).kv_write, body))


@contract(answer=schema.GET_ANSWER, query=schema.GET_QUERY, errors=(404,), error_schema=schema.ERROR)
async def memory_get(request: Request) -> Response:
    """List the memories of one scope, newest first; with `agentId`, an agent's key-value memory (seed 003)."""
    if _enabled(request) and "agentId" in request.query_params:
        return await kv_get(request)
    _check_granted(request, NATIVE)  # the guard may have let it in as the surface's
    return await list_memories(request)


@contract(answer=schema.POST_ANSWER, body=schema.POST_BODY, errors=WRITE_ERRORS, error_schema=schema.ERROR)
async def memory_post(request: Request) -> Response:
    """Create a memory (or update the one it names) through the controller;
    with `agentId`, `key` or `memory`, write key-value memory (seed 003)."""
    if not _enabled(request):
        _check_granted(request, NATIVE)
        return await write_memory(request)
    body = await read_json(request, cap=_service(request).config.compat.kv.max_body_bytes)
    if any(key in body for key in KV_KEYS):
        request.state.kv_body = body
        return await kv_post(request)
    _check_granted(request, NATIVE)
    return await write_memory(request)


async def alias_get(request: Request) -> Response:
    return await kv_get(request)


async def alias_post(request: Request) -> Response:
    return await kv_post(request)


async def alias_refused(request: Request) -> Response:
    """The alias is the surface's own path: its 405 in its envelope too."""
    return error(405, "Method Not Allowed", {"Allow": "GET, POST"})


# In place of the native GET and POST /api/memory (app.py).
shared_routes = [
    Route(SHARED, memory_get, methods=["GET"], name="list_memories"),
    Route(SHARED, memory_post, methods=["POST"], name="write_memory"),
]
alias_routes = [
    Route(ALIAS, alias_get, methods=["GET"], include_in_schema=False),
    Route(ALIAS, alias_post, methods=["POST"], include_in_schema=False),
    Route(ALIAS, alias_refused, methods=["PUT", "PATCH", "DELETE"], include_in_schema=False),
]
