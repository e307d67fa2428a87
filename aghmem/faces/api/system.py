"""Routes about the daemon itself: readiness, health, config, scopes, workspaces."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ...service.service import MemoryService
from . import answers
from .contract import contract
from .openapi import openapi_document
from .parsing import query_selector, read_json
from .payloads import WORKSPACE_BODY, workspace_path
from .payloads import queries as q


def _service(request: Request) -> MemoryService:
    return request.app.state.service


@contract(answer=answers.READY, media_type="text/plain")
async def healthz(request: Request) -> PlainTextResponse:
    """200 once the daemon is ready."""
    return PlainTextResponse("ok")


@contract(answer=answers.HEALTH)
async def health(request: Request) -> JSONResponse:
    """Counts, index state, invalid files, dream settings."""
    return JSONResponse(await run_in_threadpool(_service(request).health))


@contract(answer=answers.CONFIG_VIEW)
async def config(request: Request) -> JSONResponse:
    """The effective configuration (token masked)."""
    return JSONResponse(_service(request).config_view())


@contract(answer=answers.SCOPES, query=q.SELECTOR_QUERY, errors=(404,))
async def scope_show(request: Request) -> JSONResponse:
    """The scopes a selector sees, deepest first, and their directories."""
    selector = query_selector(request)
    return JSONResponse(await run_in_threadpool(_service(request).scope_show, selector))


@contract(answer=answers.WORKSPACES)
async def list_workspaces(request: Request) -> JSONResponse:
    """Registered workspace roots."""
    return JSONResponse({"workspaces": _service(request).list_workspaces()})


@contract(answer=answers.WORKSPACE_ADDED, body=WORKSPACE_BODY, status=201, also=(200,), errors=(409,))
async def add_workspace(request: Request) -> JSONResponse:
    """Register a workspace root (creating .agh/workspace.toml if needed)."""
    path = workspace_path(await read_json(request))
    workspace, created = await run_in_threadpool(_service(request).add_workspace, path)
    return JSONResponse({"workspace": workspace, "created": created}, status_code=201 if created else 200)


@contract(answer=answers.OPENAPI)
async def openapi(request: Request) -> JSONResponse:
    """This document."""
    return JSONResponse(openapi_document(request.app.routes))


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/workspaces", list_workspaces, methods=["GET"]),
    Route("/api/workspaces", add_workspace, methods=["POST"]),
    Route("/api/memory/health", health, methods=["GET"]),
    Route("/api/memory/config", config, methods=["GET"]),
    Route("/api/memory/scope-show", scope_show, methods=["GET"]),
]
