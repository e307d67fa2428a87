"""Read-only views for a person looking at memory (the web inspector).

`MemoryService` inherits these, so the faces call them as service methods:
every scope with its count, the effective view of a reader with shadowing
marked, whether a decision can still be reverted, when dreaming runs next.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ..errors import Conflict
from ..model import Scope, Selector

if TYPE_CHECKING:
    from .runtime import Runtime

EFFECTIVE_LIMIT = 500


class Inspection:
    """Mixed into MemoryService (which provides `runtime`, `summary` and
    `check_selector`)."""

    runtime: "Runtime"

    if TYPE_CHECKING:

        def summary(self, entry: Any) -> dict[str, Any]: ...

        def check_selector(self, selector: Selector) -> Selector: ...

    def scope_overview(self) -> list[dict[str, Any]]:
        """Every scope on disk (global, agents, each workspace and its
        agents) with its directory and how many memories it holds; then the
        workspaces whose root folder is gone (`missing`)."""
        rt = self.runtime
        counts = rt.catalog.scope_stats()
        roots = {ws.id: str(ws.path) for ws in rt.registry.list()}
        scopes = [*rt.layout.scope_dirs()]
        gone = rt.registry.missing()
        missing = [Selector(Scope.WORKSPACE, workspace_id=ws.id) for ws in gone]
        scopes += [(selector, ws.path / ".agh" / "memory") for selector, ws in zip(missing, gone)]
        return [
            {
                **selector.to_dict(),
                "key": selector.key,
                "directory": str(directory),
                "workspace_path": roots.get(selector.workspace_id or ""),
                "count": counts.get(selector.key, 0),
                "missing": selector in missing,
            }
            for selector, directory in scopes
        ]

    def effective_view(self, selector: Selector, *, limit: int = EFFECTIVE_LIMIT) -> list[dict[str, Any]]:
        """What a reader with `selector` sees, deepest scope first: every
        memory of its visible scopes (newest first within each), the ones a
        deeper scope's file of the same name hides marked `shadowed_by`
        (that file's id and scope), as recall marks them."""
        self.check_selector(selector)
        winners: dict[str, dict[str, Any]] = {}
        view = []
        for scope in sorted(selector.visible_scopes(), key=lambda s: -s.depth):
            entries, _ = self.runtime.catalog.list_entries(scope.key, limit=limit)
            for entry in entries:
                view.append({**self.summary(entry), "shadowed_by": winners.get(entry.filename)})
                winners.setdefault(entry.filename, {"id": entry.id, **scope.to_dict()})
        return view

    def revert_refusal(self, decision_id: str) -> str | None:
        """Why reverting this decision would be refused now (the file changed
        since, nothing was applied…), or None when it would go through. A
        dry run: nothing changes."""
        try:
            self.runtime.controller.revert(decision_id, dry_run=True)
        except Conflict as exc:
            return exc.message
        return None

    def dream_schedule(self) -> dict[str, Any]:
        """When dreaming last completed anywhere and when the scheduler next
        checks the gates."""
        rt = self.runtime
        jobs = {job["id"]: job["next_run_at"] for job in rt.scheduler.jobs()} if rt.scheduler.running else {}
        dream = rt.config.dream
        next_check = jobs.get("dream_check") if dream.enabled else None
        if isinstance(next_check, str):  # the scheduler's local time → UTC, as every stamp here
            next_check = dt.datetime.fromisoformat(next_check).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "enabled": dream.enabled,
            "check_interval": dream.check_interval,
            "next_check_at": next_check,
            "last_completed_at": rt.dreaming.store.last_completed_at(None),
        }
