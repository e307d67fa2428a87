"""Where an MCP connection works, and which scope a tool's `scope` names.

The workspace is never a tool argument (the model cannot know its id): it
comes from the connection, in this order: the `/w/{workspace}/mcp` path, the
`X-Aghmem-Workspace` header, `?workspace=` (each an id, or a path inside a
registered root; an unknown one is an error), else `X-Aghmem-Cwd` (sent by
`aghmem mcp --stdio`: the registered root holding it, if any), else none
(global only). `MemoryService.workspace_for` resolves it, as it does for
hooks and the CLI.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import unquote

from ...errors import ValidationError
from ...model import GLOBAL, GLOBAL_TYPES, MemoryType, Scope, Selector
from ...service.service import MemoryService

WORKSPACE_HEADER = "x-aghmem-workspace"
CWD_HEADER = "x-aghmem-cwd"
WORKSPACE_PARAM = "workspace"

# What a tool's `scope` argument may say: the workspace of the connection,
# or the global scope.
ScopeName = Literal["global", "workspace"]

NO_WORKSPACE = (
    "this connection has no workspace: connect through /w/<workspace id or URL-encoded path>/mcp, "
    "the X-Aghmem-Workspace header or ?workspace=, or use scope 'global'"
)


def given_workspace(request: Any) -> tuple[str | None, str | None]:
    """(the workspace the connection names, the directory it runs in) as
    sent; both None for a request without HTTP (an in-process client)."""
    if request is None:
        return None, None
    named = (
        request.path_params.get(WORKSPACE_PARAM)
        or request.headers.get(WORKSPACE_HEADER)
        or request.query_params.get(WORKSPACE_PARAM)
    )
    cwd = request.headers.get(CWD_HEADER)
    # Headers carry latin-1 only: a path in one may be percent-encoded.
    return (unquote(named) if named else None), (unquote(cwd) if cwd else None)


def connection_workspace(service: MemoryService, request: Any) -> str | None:
    named, cwd = given_workspace(request)
    return service.workspace_for(named, cwd=cwd)


def workspace_selector(workspace_id: str | None) -> Selector:
    if workspace_id is None:
        raise ValidationError(NO_WORKSPACE, field="scope")
    return Selector(Scope.WORKSPACE, workspace_id=workspace_id)


def search_selector(workspace_id: str | None, scope: ScopeName | None) -> Selector:
    """What a search sees: by default everything visible from the
    connection (its workspace and global); `global`: global only."""
    if scope == "global" or (scope is None and workspace_id is None):
        return GLOBAL
    return workspace_selector(workspace_id)


def write_selector(workspace_id: str | None, scope: ScopeName | None, memory_type: MemoryType) -> Selector:
    """Where a write goes: the scope given, else by type as on the HTTP API
    (user and feedback: global; project and reference: the workspace)."""
    if scope == "global" or (scope is None and memory_type in GLOBAL_TYPES):
        return GLOBAL
    return workspace_selector(workspace_id)


def lookup_selectors(workspace_id: str | None, scope: ScopeName | None) -> list[Selector]:
    """Where to look for a memory named by file: the scope given, else the
    workspace first (it shadows global), then global."""
    if scope == "global":
        return [GLOBAL]
    if scope == "workspace":
        return [workspace_selector(workspace_id)]
    return [workspace_selector(workspace_id), GLOBAL] if workspace_id else [GLOBAL]


def default_type(workspace_id: str | None, scope: ScopeName | None) -> MemoryType:
    """A write that names no type: a project note inside a workspace, else a
    user note (as the HTTP API's ad-hoc notes do)."""
    return MemoryType.PROJECT if workspace_id and scope != "global" else MemoryType.USER
