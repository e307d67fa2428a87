"""Routes for memories: list, read, write, patch, delete, ad-hoc notes."""

from __future__ import annotations

from typing import Any, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from ...controller.controller import Outcome
from ...service.service import MemoryService
from .parsing import if_match, query_int, query_selector, read_json
from .payloads import ad_hoc_candidate, delete_candidate, patch_candidate, promotion, write_candidate


def _service(request: Request) -> MemoryService:
    return request.app.state.service


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


async def list_memories(request: Request) -> JSONResponse:
    """List the memories of one scope, newest first."""
    selector = query_selector(request)
    limit = query_int(request, "limit", 100)
    cursor = request.query_params.get("cursor") or None
    memories, next_cursor = await run_in_threadpool(
        _service(request).list_memories, selector, limit=limit, cursor=cursor
    )
    return JSONResponse({"memories": memories, "next_cursor": next_cursor})


async def write_memory(request: Request) -> JSONResponse:
    """Create a memory (or update the one it names) through the controller."""
    candidate = write_candidate(await read_json(request))
    return render_outcome(await run_in_threadpool(_service(request).submit, candidate))


async def ad_hoc(request: Request) -> JSONResponse:
    """Save a quick note; its name and type are inferred."""
    candidate = ad_hoc_candidate(await read_json(request))
    return JSONResponse(await run_in_threadpool(_service(request).ad_hoc, candidate))


async def promote(request: Request) -> JSONResponse:
    """Copy a memory to another scope through the controller."""
    p = promotion(await read_json(request))
    outcome = await run_in_threadpool(
        lambda: _service(request).promote(p.filename, p.source, p.target, dry_run=p.dry_run, idempotency_key=p.idempotency_key)
    )
    return render_outcome(outcome)


async def get_memory(request: Request) -> JSONResponse:
    """Read one memory; the ETag is its content hash."""
    selector = query_selector(request)
    view = await run_in_threadpool(_service(request).get_memory, selector, request.path_params["filename"])
    payload: dict[str, Any] = {"memory": {"summary": view.summary, "content": view.content}}
    return JSONResponse(payload, headers={"ETag": f'"{view.content_hash}"'})


async def patch_memory(request: Request) -> JSONResponse:
    """Change fields of one memory; honours If-Match."""
    candidate = patch_candidate(
        request.path_params["filename"], await read_json(request), dict(request.query_params), if_match=if_match(request)
    )
    return render_outcome(await run_in_threadpool(_service(request).submit, candidate))


async def delete_memory(request: Request) -> JSONResponse:
    """Delete one memory; honours If-Match."""
    candidate = delete_candidate(
        request.path_params["filename"], await read_json(request), dict(request.query_params), if_match=if_match(request)
    )
    return render_outcome(await run_in_threadpool(_service(request).submit, candidate))


routes = [
    Route("/api/memory", list_memories, methods=["GET"]),
    Route("/api/memory", write_memory, methods=["POST"]),
    Route("/api/memory/ad-hoc", ad_hoc, methods=["POST"]),
    Route("/api/memory/promote", promote, methods=["POST"]),
]

class ItemRoute(Route):
    """`/api/memory/{filename}`, except on a path another route owns: there
    a wrong method (`DELETE /api/memory/health`) is that route's 405, not a
    bad filename. `others` is set when the app is assembled."""

    others: Sequence[BaseRoute] = ()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            path = scope["path"]
            if any(isinstance(r, Route) and r.path_regex.match(path) for r in self.others):
                return Match.NONE, {}
        return match, child


# Last, and with the `path` convertor: an encoded slash (`%2f`) must reach
# the handler and be refused with a 400, not fall through to a 404.
item_routes = [
    ItemRoute("/api/memory/{filename:path}", get_memory, methods=["GET"]),
    ItemRoute("/api/memory/{filename:path}", patch_memory, methods=["PATCH"]),
    ItemRoute("/api/memory/{filename:path}", delete_memory, methods=["DELETE"]),
]


def own_item_paths(others: Sequence[BaseRoute]) -> None:
    """Tell the item routes which paths belong to the other routes."""
    for route in item_routes:
        assert isinstance(route, ItemRoute)
        route.others = tuple(others)
