"""`GET /api/memory/health`: what the daemon holds and how fresh it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__

if TYPE_CHECKING:
    from ..features.indexing import JobProgress
    from .runtime import Runtime


def health_report(runtime: "Runtime") -> dict[str, Any]:
    per_scope = runtime.catalog.scope_stats()
    if not runtime.indexing.index.building and runtime.ready.is_set():  # not while starting: a poller would set the commits' pace
        runtime.indexing.index.flush()  # report what a search would see
    indexed = runtime.indexing.index.num_docs()
    dirty = len(runtime.catalog.dirty_ids())
    operation_count, last_operation_at = runtime.catalog.operation_stats()
    refused = runtime.catalog.invalid_files()
    invalid = [{"path": f["path"], "error": f["error"]} for f in refused if f["kind"] == "invalid"]
    quarantined = [
        {"path": f["path"], "rule": f["rule"], "reason": f["error"]} for f in refused if f["kind"] == "quarantined"
    ]
    problems = [f"{len(invalid)} memory file(s) cannot be read or parsed"] if invalid else []
    if quarantined:
        problems.append(f"{len(quarantined)} memory file(s) quarantined (a limit or the safety scan)")
    configs = _compat(runtime, problems)
    missing = [ws.to_dict() for ws in runtime.registry.missing()]
    problems += [f"workspace {ws['id']}: root {ws['path']} is missing (moved? `aghmem workspace move {ws['id']} NEWPATH`)" for ws in missing]
    dream = runtime.config.dream
    ready = runtime.ready.is_set()
    job = runtime.indexing.progress or runtime.taking_in
    if not ready:
        problems.append(_starting(job))
    return {
        "status": "degraded" if problems else "ok",
        "ready": ready,
        "reason": "; ".join(problems),
        "version": __version__,
        "configured": True,
        "enabled": runtime.config.enabled,
        "home": str(runtime.config.home_path),
        "global_dir": str(runtime.layout.global_dir),
        "global_files": per_scope.get("global", 0),
        "workspace_count": len(runtime.registry.list()),
        "missing_workspaces": missing,
        "workspace_files": sum(n for key, n in per_scope.items() if key.startswith("ws:")),
        "agent_files": sum(n for key, n in per_scope.items() if key.startswith("agent:")),
        "catalog_files": sum(per_scope.values()),
        "indexed_files": indexed,
        # Index documents without a catalog entry, or the reverse: 0 when
        # the two agree (the dirty rows are the part still on its way).
        "orphaned_files": abs(indexed - sum(per_scope.values())) if not dirty else 0,
        "invalid_files": invalid,
        # Kept on disk untouched, never indexed or recalled, until fixed.
        "quarantined_files": quarantined,
        **configs,
        "operation_count": operation_count,
        "last_operation_at": last_operation_at,
        "last_scan": runtime.last_scan_at,
        "last_reindex": runtime.indexing.last_reindex or runtime.last_scan_at,
        "index": {**runtime.indexing.status(), "dirty": dirty},
        "watcher": runtime.watcher.status(),
        "job": job.to_dict() if job is not None else None,
        "last_consolidation": runtime.dreaming.store.last_completed_at(None),
        "dream_enabled": dream.enabled,
        "dream_agent": dream.agent,
        "dream_check_interval": dream.check_interval,
        "dream_min_hours": dream.min_hours,
        "dream_min_sessions": dream.min_sessions,
    }


def _starting(job: "JobProgress | None") -> str:
    done = f" ({job.done} of {job.total})" if job is not None and job.total else ""
    return f"starting: taking in the memory files{done} (searches answer with what is in; writes wait)"


def _compat(runtime: "Runtime", problems: list[str]) -> dict[str, Any]:
    """The compat surfaces' trouble: memory configurations (COMPAT §2) left
    out of lists, bindings to configurations that are not there, and
    key-value cards (§3) a hand edit left without JSON."""
    cards = runtime.kv.problems()
    problems += cards
    broken = runtime.configs.store.broken()
    unbound = runtime.configs.bindings.missing()
    if broken:
        problems.append(f"{len(broken)} memory configuration file(s) cannot be parsed or validated")
    problems += [f"binding {b['pattern']!r} names {b['config']}, which is absent or broken" for b in unbound]
    return {"invalid_configs": broken, "missing_config_bindings": unbound, "kv_problems": cards}
