"""Workspaces: project roots with their own memories, registered, moved,
forgotten, and found from where an agent or a person works.

`MemoryService` inherits these, so the faces call them as service methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..model import check_workspace_id
from ..storage.layout import WorkspaceRegistry, expand_home, write_gitignore

if TYPE_CHECKING:
    from .runtime import Runtime


class Workspaces:
    """Mixed into MemoryService (which provides `registry` and `runtime`)."""

    registry: WorkspaceRegistry
    runtime: "Runtime"

    def add_workspace(self, path: Any, *, gitignore: bool = True) -> tuple[dict[str, Any], bool]:
        """Register a root (`gitignore`: write `.agh/.gitignore` if absent)."""
        workspace, created = self.registry.register(path)
        wrote = write_gitignore(workspace.path) if gitignore else False
        self.runtime.take_in_workspace(workspace.id, workspace.path)
        return {**workspace.to_dict(), "gitignore_written": wrote}, created

    def list_workspaces(self) -> list[dict[str, Any]]:
        missing = {ws.id for ws in self.registry.missing()}
        return [{**ws.to_dict(), "missing": ws.id in missing} for ws in self.registry.list()]

    def move_workspace(self, workspace_id: str, path: Any) -> dict[str, Any]:
        """A workspace's root moved (`mv`): point it at the new one and take
        its files in there (same files: no decisions)."""
        moved = self.registry.move(check_workspace_id(workspace_id), path)
        self.runtime.take_in_workspace(moved.id, moved.path)
        return moved.to_dict()

    def remove_workspace(self, workspace_id: str) -> dict[str, Any]:
        """Forget a workspace: its memories leave the catalog and the index;
        its files stay on disk, untouched."""
        gone = self.registry.remove(check_workspace_id(workspace_id))
        return {"workspace": gone.to_dict(), "forgotten": self.runtime.forget_workspace(gone.id)}

    def workspace_for(self, given: str | None = None, *, cwd: str | Path | None = None) -> str | None:
        """The workspace a connection, hook or command works in: `given` (an
        id, or a path in a registered root) when set, else the registered
        root holding `cwd`, else None (global only). MCP, hooks and the CLI
        all ask here, so a memory written through one is found by the others."""
        if given:
            if given.startswith("ws_"):
                return self.registry.get(check_workspace_id(given)).id
            found = self.registry.containing(expand_home(given, f"workspace {given}", workspace=given))
            if found is None:
                raise NotFound(f"no registered workspace holds {given}; register it with `aghmem workspace add`", workspace=given)
            return found.id
        if cwd:
            found = self.registry.containing(Path(cwd))
            return found.id if found is not None else None
        return None

