"""Routes about the daemon itself: readiness, health, config, scopes, workspaces."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ...service.service import MemoryService
from ..json_answer import JSONResponse
from . import answers
from .contract import contract
from .openapi import openapi_document
from .parsing import query_selector, read_json
from .payloads import MOVE_BODY, RESOLVE_QUERY, WORKSPACE_BODY, resolve_path, workspace_move, workspace_registration
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
    path, gitignore = workspace_registration(await read_json(request))
    service = _service(request)
    workspace, created = await run_in_threadpool(lambda: service.add_workspace(path, gitignore=gitignore))
    return JSONResponse({"workspace": workspace, "created": created}, status_code=201 if created else 200)


@contract(answer=answers.WORKSPACE_MOVED, body=MOVE_BODY, path={"workspace_id": q.WORKSPACE_ID}, errors=(404, 409))
async def move_workspace(request: Request) -> JSONResponse:
    """A workspace's root moved: point it at the new path."""
    path = workspace_move(await read_json(request))
    workspace_id = request.path_params["workspace_id"]
    return JSONResponse({"workspace": await run_in_threadpool(_service(request).move_workspace, workspace_id, path)})


@contract(answer=answers.WORKSPACE_REMOVED, path={"workspace_id": q.WORKSPACE_ID}, errors=(404,))
async def remove_workspace(request: Request) -> JSONResponse:
    """Forget a workspace; its files stay on disk."""
    return JSONResponse(await run_in_threadpool(_service(request).remove_workspace, request.path_params["workspace_id"]))


@contract(answer=answers.WORKSPACE_RESOLVED, query=RESOLVE_QUERY)
async def resolve_workspace(request: Request) -> JSONResponse:
    """The registered workspace holding a path (its root or a folder under
    it), or null: the resolver MCP and hooks use, for the CLI's current
    directory."""
    path = resolve_path(request.query_params)
    service = _service(request)
    workspace_id = await run_in_threadpool(service.workspace_for, cwd=path)
    found = [ws for ws in service.list_workspaces() if ws["id"] == workspace_id] if workspace_id else []
    return JSONResponse({"workspace": found[0] if found else None})


@contract(answer=answers.OPENAPI)
async def openapi(request: Request) -> JSONResponse:
    """This document."""
    return JSONResponse(openapi_document(request.app.routes))


class WorkspaceIdConvertor(Convertor[str]):
    """A path segment that looks like a workspace id: `DELETE
    /api/workspaces/resolve` then is that route's 405, not a bad id."""

    regex = "ws_[a-z0-9]{4,64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("wsid", WorkspaceIdConvertor())

routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/api/workspaces", list_workspaces, methods=["GET"]),
    Route("/api/workspaces", add_workspace, methods=["POST"]),
    Route("/api/workspaces/resolve", resolve_workspace, methods=["GET"]),
    Route("/api/workspaces/{workspace_id:wsid}", remove_workspace, methods=["DELETE"]),
    Route("/api/workspaces/{workspace_id:wsid}/move", move_workspace, methods=["POST"]),
    Route("/api/memory/health", health, methods=["GET"]),
    Route("/api/memory/config", config, methods=["GET"]),
    Route("/api/memory/scope-show", scope_show, methods=["GET"]),
]
