"""Routes about the daemon itself: readiness, health, config, scopes, workspaces."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ...errors import ValidationError
from ...service.service import MemoryService
from .openapi import openapi_document
from .parsing import query_selector, read_json
from .payloads import resolve_path
from .payloads.fields import check_fields


def _service(request: Request) -> MemoryService:
    return request.app.state.service


async def healthz(request: Request) -> PlainTextResponse:
    """200 once the daemon is ready."""
    return PlainTextResponse("ok")


async def health(request: Request) -> JSONResponse:
    """Counts, index state, invalid files, dream settings."""
    return JSONResponse(await run_in_threadpool(_service(request).health))


async def config(request: Request) -> JSONResponse:
    """The effective configuration (token masked)."""
    return JSONResponse(_service(request).config_view())


async def scope_show(request: Request) -> JSONResponse:
    """The scopes a selector sees, deepest first, and their directories."""
    selector = query_selector(request)
    return JSONResponse(await run_in_threadpool(_service(request).scope_show, selector))


async def list_workspaces(request: Request) -> JSONResponse:
    """Registered workspace roots."""
    return JSONResponse({"workspaces": _service(request).list_workspaces()})


async def add_workspace(request: Request) -> JSONResponse:
    """Register a workspace root (creating .agh/workspace.toml if needed)."""
    body = await read_json(request)
    check_fields(body, frozenset({"path", "gitignore"}))
    gitignore = body.get("gitignore", True)
    if not isinstance(gitignore, bool):
        raise ValidationError("gitignore must be true or false", field="gitignore")
    service = _service(request)
    workspace, created = await run_in_threadpool(lambda: service.add_workspace(body.get("path"), gitignore=gitignore))
    return JSONResponse({"workspace": workspace, "created": created}, status_code=201 if created else 200)


async def move_workspace(request: Request) -> JSONResponse:
    """A workspace's root moved: point it at the new path."""
    body = await read_json(request)
    check_fields(body, frozenset({"path"}))
    workspace_id = request.path_params["workspace_id"]
    return JSONResponse({"workspace": await run_in_threadpool(_service(request).move_workspace, workspace_id, body.get("path"))})


async def remove_workspace(request: Request) -> JSONResponse:
    """Forget a workspace; its files stay on disk."""
    return JSONResponse(await run_in_threadpool(_service(request).remove_workspace, request.path_params["workspace_id"]))


async def resolve_workspace(request: Request) -> JSONResponse:
    """The registered workspace holding a path (its root or a folder under
    it), or null: the resolver MCP and hooks use, for the CLI's current
    directory."""
    path = resolve_path(request.query_params)
    service = _service(request)
    workspace_id = await run_in_threadpool(service.workspace_for, cwd=path)
    found = [ws for ws in service.list_workspaces() if ws["id"] == workspace_id] if workspace_id else []
    return JSONResponse({"workspace": found[0] if found else None})


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
