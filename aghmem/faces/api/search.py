"""Routes for recall and the index: search, traces, reindex, reset, reload."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import read_json, whole_number
from .payloads import NO_BODY, REINDEX_BODY, RESET_BODY, SEARCH_BODY, no_body, reindex_selector, reset_request, search_request
from .payloads import queries as q


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@contract(answer=answers.SEARCHED, body=SEARCH_BODY, errors=(404,))
async def search(request: Request) -> JSONResponse:
    """Recall: memories for a query, ranked, packaged for an agent."""
    service = _service(request)
    search_req = search_request(await read_json(request), service.config.recall)
    if service.search_waits(search_req):
        return JSONResponse(await run_in_threadpool(service.search, search_req))
    # Only a few ms of CPU, most of it holding the GIL: computed here, not
    # handed to a worker thread and back (the hop cost ~0.35 ms of CPU a
    # search; with 8 clients, 20-25% more searches a second without it).
    return JSONResponse(service.search(search_req))


@contract(answer=answers.TRACE, path={"session_id": q.SESSION_PATH["session_id"], "turn_seq": q.TURN_SEQ}, errors=(404,))
async def recall_trace(request: Request) -> JSONResponse:
    """What one turn of a session recalled, and why."""
    turn_seq = whole_number(request.path_params["turn_seq"], "turn_seq")
    trace = await run_in_threadpool(_service(request).recall_trace, request.path_params["session_id"], turn_seq)
    return JSONResponse({"trace": trace})


@contract(answer=answers.REINDEXED, body=REINDEX_BODY, errors=(404,))
async def reindex(request: Request) -> JSONResponse:
    """Scan the files again and rebuild index documents (a scope, or all)."""
    selector = reindex_selector(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).reindex, selector))


@contract(answer=answers.RESET, body=RESET_BODY)
async def reset(request: Request) -> JSONResponse:
    """Rebuild all derived state from the files (needs confirm and derived_only)."""
    reset_request(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).reset))


@contract(answer=answers.RELOADED, body=NO_BODY)
async def reload(request: Request) -> JSONResponse:
    """Take the config file again (all but locked_paths)."""
    no_body(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).reload))


routes = [
    Route("/api/memory/search", search, methods=["POST"]),
    Route("/api/memory/recall-traces/{session_id}/{turn_seq}", recall_trace, methods=["GET"]),
    Route("/api/memory/reindex", reindex, methods=["POST"]),
    Route("/api/memory/reset", reset, methods=["POST"]),
    Route("/api/memory/reload", reload, methods=["POST"]),
]
