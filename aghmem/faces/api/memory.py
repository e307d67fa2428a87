"""Routes for memories: list, read, write, patch, delete, ad-hoc notes."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from ...controller.controller import ChangedOnDisk, Outcome
from ...controller.rules import Candidate
from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .parsing import if_match, query_int, query_selector, read_json
from .payloads import (
    AD_HOC_BODY,
    DELETE_BODY,
    PATCH_BODY,
    PROMOTE_BODY,
    WRITE_BODY,
    ad_hoc_candidate,
    delete_candidate,
    patch_candidate,
    promotion,
    write_candidate,
)
from .payloads import queries as q
from .routing import ParamRoute

# What a write through the controller can meet: an unknown workspace, a file
# that changed (If-Match) or cannot be parsed, a rejection, the rate limit,
# a daemon still taking its files in after a start.
WRITE_ERRORS = (404, 409, 422, 429, 503)


def _service(request: Request) -> MemoryService:
    return request.app.state.service


# Past this much text, a write's safety scan (run before it queues) is done
# in a worker thread: 20,000 characters can take ~3 ms, too long to hold up
# the event loop; a typical memory's takes ~50 µs.
LOOP_SCAN_CHARS = 4096


async def submitted(service: MemoryService, candidate: Candidate) -> Outcome:
    """A write queued from the event loop and awaited: no worker thread
    waits for its batch (with 8 clients, 5-12% less CPU a write). A long
    one, one sent while the daemon takes its files in, or one on a file a
    save landed on as it was decided goes the waiting way (`submit`)."""
    short = sum(len(text or "") for text in (candidate.name, candidate.description, candidate.body)) <= LOOP_SCAN_CHARS
    future = service.submit_soon(candidate) if short and not candidate.extra_scan_texts else None
    changed = None
    if future is not None:
        try:
            return service.accepted(await asyncio.wrap_future(future))
        except ChangedOnDisk as exc:
            changed = exc
    return await run_in_threadpool(lambda: service.submit(candidate, changed=changed))


def render_outcome(outcome: Outcome) -> JSONResponse:
    decision = outcome.decision
    headers = {}
    if outcome.applied and decision.post_content_hash:
        headers["ETag"] = f'"{decision.post_content_hash}"'
    return JSONResponse(
        {
            "applied": outcome.applied,
            "dry_run": outcome.dry_run,
            "replay": outcome.replay,
            "decision": decision.to_dict(),
        },
        headers=headers,
    )


@contract(answer=answers.MEMORIES, query=q.PAGE_QUERY, errors=(404,))
async def list_memories(request: Request) -> JSONResponse:
    """List the memories of one scope, newest first."""
    selector = query_selector(request)
    limit = query_int(request, "limit", 100)
    cursor = request.query_params.get("cursor") or None
    memories, next_cursor = await run_in_threadpool(
        _service(request).list_memories, selector, limit=limit, cursor=cursor
    )
    return JSONResponse({"memories": memories, "next_cursor": next_cursor})


@contract(answer=answers.OUTCOME, body=WRITE_BODY, errors=WRITE_ERRORS)
async def write_memory(request: Request) -> JSONResponse:
    """Create a memory (or update the one it names) through the controller."""
    candidate = write_candidate(await read_json(request))
    return render_outcome(await submitted(_service(request), candidate))


@contract(answer=answers.AD_HOC, body=AD_HOC_BODY, errors=WRITE_ERRORS)
async def ad_hoc(request: Request) -> JSONResponse:
    """Save a quick note; its name and type are inferred."""
    candidate = ad_hoc_candidate(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).ad_hoc, candidate))


@contract(answer=answers.OUTCOME, body=PROMOTE_BODY, errors=WRITE_ERRORS)
async def promote(request: Request) -> JSONResponse:
    """Copy a memory to another scope through the controller."""
    p = promotion(await read_json(request))
    outcome = await run_in_threadpool(
        lambda: _service(request).promote(p.filename, p.source, p.target, dry_run=p.dry_run, idempotency_key=p.idempotency_key)
    )
    return render_outcome(outcome)


@contract(answer=answers.MEMORY, path={"filename": q.MEMORY_FILENAME}, query=q.SELECTOR_QUERY, errors=(404, 409))
async def get_memory(request: Request) -> JSONResponse:
    """Read one memory; the ETag is its content hash."""
    selector = query_selector(request)
    view = await run_in_threadpool(_service(request).get_memory, selector, request.path_params["filename"])
    payload: dict[str, Any] = {"memory": {"summary": view.summary, "content": view.content}}
    return JSONResponse(payload, headers={"ETag": f'"{view.content_hash}"'})


@contract(
    answer=answers.OUTCOME, body=PATCH_BODY, path={"filename": q.MEMORY_FILENAME}, query=q.SELECTOR_QUERY,
    headers=q.IF_MATCH, errors=WRITE_ERRORS,
)
async def patch_memory(request: Request) -> JSONResponse:
    """Change fields of one memory; honours If-Match."""
    candidate = patch_candidate(
        request.path_params["filename"], await read_json(request), dict(request.query_params), if_match=if_match(request)
    )
    return render_outcome(await submitted(_service(request), candidate))


@contract(
    answer=answers.OUTCOME, body=DELETE_BODY, path={"filename": q.MEMORY_FILENAME}, query=q.DELETE_QUERY,
    headers=q.IF_MATCH, errors=WRITE_ERRORS,
)
async def delete_memory(request: Request) -> JSONResponse:
    """Delete one memory; honours If-Match."""
    candidate = delete_candidate(
        request.path_params["filename"], await read_json(request), dict(request.query_params), if_match=if_match(request)
    )
    return render_outcome(await submitted(_service(request), candidate))


# GET and POST /api/memory are served by the dispatchers of the key-value
# face (faces/compat/kv/routes.py): with `agentId` they are seed 003's,
# else they call list_memories and write_memory above, unchanged.
routes = [
    Route("/api/memory/ad-hoc", ad_hoc, methods=["POST"]),
    Route("/api/memory/promote", promote, methods=["POST"]),
]


# Last, and with the `path` convertor: an encoded slash (`%2f`) must reach
# the handler and be refused with a 400, not fall through to a 404.
# They yield every path another route owns (see routing.py).
item_routes = [
    ParamRoute("/api/memory/{filename:path}", get_memory, methods=["GET"]),
    ParamRoute("/api/memory/{filename:path}", patch_memory, methods=["PATCH"]),
    ParamRoute("/api/memory/{filename:path}", delete_memory, methods=["DELETE"]),
]
