"""Payloads about workspaces: registering one, moving it, which one holds
a path."""

from __future__ import annotations

from typing import Any, Mapping

from .spec import Body, Field

MAX_PATH = 4_096
ROOT = Field("string", "An existing absolute directory", required=True, max_length=MAX_PATH, pattern="/.*",
             hint="workspace path must be an absolute path")

WORKSPACE_BODY = Body({
    "path": ROOT.but(description="The workspace root: an existing absolute directory"),
    "gitignore": Field("boolean", "Write .agh/.gitignore when there is none (the default)"),
}, example={"path": "/home/me/project"})
MOVE_BODY = Body({"path": ROOT.but(description="Where the workspace's root is now (it holds its .agh/workspace.toml)")},
                 example={"path": "/home/me/projects/project"})
RESOLVE_QUERY = {
    "path": Field(
        "string", "The absolute path of a directory (the caller's current one)", required=True, max_length=MAX_PATH,
        one_line=True, pattern="/.*", hint="path must be absolute",
        missing="path is required: the absolute path of a directory, e.g. ?path=/home/me/project",
    ),
}


def workspace_registration(body: Mapping[str, Any]) -> tuple[str, bool]:
    """`POST /api/workspaces`: (path, whether to write .agh/.gitignore)."""
    WORKSPACE_BODY.check(body)
    gitignore = body.get("gitignore")
    return body["path"], True if gitignore is None else gitignore


def workspace_move(body: Mapping[str, Any]) -> str:
    """`POST /api/workspaces/{id}/move`: the new root."""
    return MOVE_BODY.check(body)["path"]


def resolve_path(query: Mapping[str, Any]) -> str:
    """`GET /api/workspaces/resolve?path=…`: an absolute path (the caller's
    current directory; the daemon's own would mean nothing)."""
    return Body(RESOLVE_QUERY).check(dict(query))["path"]
