"""Routes for recall and the index: search, traces, reindex, reset, reload."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...errors import ValidationError
from ...model import SELECTOR_FIELDS, has_selector_fields, resolve_selector
from ...service.service import MemoryService
from .parsing import read_json, whole_number
from .payloads import reset_request, search_request


def _service(request: Request) -> MemoryService:
    return request.app.state.service


async def search(request: Request) -> JSONResponse:
    """Recall: memories for a query, ranked, packaged for an agent."""
    service = _service(request)
    search_req = search_request(await read_json(request), service.config.recall)
    return JSONResponse(await run_in_threadpool(service.search, search_req))


async def recall_trace(request: Request) -> JSONResponse:
    """What one turn of a session recalled, and why."""
    turn_seq = whole_number(request.path_params["turn_seq"], "turn_seq")
    trace = await run_in_threadpool(_service(request).recall_trace, request.path_params["session_id"], turn_seq)
    return JSONResponse({"trace": trace})


async def reindex(request: Request) -> JSONResponse:
    """Scan the files again and rebuild index documents (a scope, or all)."""
    body = await read_json(request)
    unknown = set(body) - set(SELECTOR_FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}", unknown=sorted(unknown))
    selector = resolve_selector(body) if has_selector_fields(body) else None
    return JSONResponse(await run_in_threadpool(_service(request).reindex, selector))


async def reset(request: Request) -> JSONResponse:
    """Rebuild all derived state from the files (needs confirm and derived_only)."""
    reset_request(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).reset))


async def reload(request: Request) -> JSONResponse:
    """Take the config file again (all but locked_paths)."""
    await read_json(request)
    return JSONResponse(await run_in_threadpool(_service(request).reload))


routes = [
    Route("/api/memory/search", search, methods=["POST"]),
    Route("/api/memory/recall-traces/{session_id}/{turn_seq}", recall_trace, methods=["GET"]),
    Route("/api/memory/reindex", reindex, methods=["POST"]),
    Route("/api/memory/reset", reset, methods=["POST"]),
    Route("/api/memory/reload", reload, methods=["POST"]),
]
