"""`aghmem search`, `aghmem reindex`, `aghmem doctor`: recall and the index."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from ..client import Client
from ..setup import mcp_url
from .output import add_selector, emit, scope_label, selector


def cmd_search(client: Client, args: argparse.Namespace) -> None:
    result = client.search(
        " ".join(args.query),
        top_k=args.top_k,
        mode="explicit",
        include_system=args.include_system or None,
        session_id=args.session,
        **{k: v for k, v in selector(args).items() if v},
    )
    emit(args, result, lambda r: render_search(r, why=args.why))


def render_search(result: dict[str, Any], *, why: bool) -> str:
    if not result["results"]:
        reason = ": ".join(r for r in (result.get("skipped_reason"), result.get("note")) if r)
        return "no memories found" + (f" ({reason})" if reason else "")
    lines = []
    for rank, item in enumerate(result["results"], 1):
        memory = item["memory"]
        shadow = f"  [shadowed by {item['shadowed_by']}]" if item.get("shadowed_by") else ""
        lines.append(f"{rank}. {memory['name']}  ({memory['type']}, {scope_label(memory)}, {memory['filename']}){shadow}")
        lines.append(f"   {item['snippet']}")
        if why:
            lines.append(f"   why: {'; '.join(item['why_recalled'])}  score {item['score']:.3f}")
        if memory.get("staleness_banner"):
            lines.append(f"   ! {memory['staleness_banner']}")
    index = result["index"]
    lines.append(f"\nindex generation {index['generation']}, last sync {index['last_sync_at']}")
    return "\n".join(lines)


def _progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def cmd_reindex(client: Client, args: argparse.Namespace) -> None:
    """Runs the reindex request; meanwhile polls health for the job's progress."""
    outcome: dict[str, Any] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.update(client.reindex(**selector(args)))
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the main thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    interactive = sys.stderr.isatty() and not args.json
    with Client(client.url, token=args.token_value) as poller:
        while worker.is_alive():
            worker.join(timeout=0.2)
            if interactive and worker.is_alive():
                job = poller.health().get("job")
                if job and job.get("total"):
                    print(f"\r{job['job']} {_progress_bar(job['done'], job['total'])}", end="", file=sys.stderr, flush=True)
    if interactive:
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    if failure:
        raise failure[0]
    # Without a selector the daemon rebuilds every scope, though its answer
    # names the global one (the selector it defaults to).
    where = scope_label(outcome) if any(selector(args).values()) else "all scopes"
    emit(args, outcome, lambda r: f"reindexed {r['indexed_files']} memories ({where}) at {r['completed_at']}")


def cmd_doctor(client: Client, args: argparse.Namespace) -> None:
    workspace = client.resolve_workspace(os.getcwd())
    mcp = {
        "url": mcp_url(client.url),
        "workspace_id": workspace["id"] if workspace else None,
        "workspace_url": mcp_url(client.url, workspace["id"]) if workspace else None,
    }
    health = {**client.health(), "mcp": mcp}
    emit(args, health, render_doctor)
    if not args.json and problems(health):
        raise SystemExit(1)


def problems(health: dict[str, Any]) -> int:
    return (
        bool(health["orphaned_files"]) + len(health["invalid_files"]) + len(health.get("quarantined_files", []))
        + len(health.get("missing_workspaces", [])) + len(health.get("invalid_configs", []))
        + len(health.get("missing_config_bindings", [])) + len(health.get("kv_problems", []))
    )


def render_doctor(health: dict[str, Any]) -> str:
    index = health["index"]
    lines = [
        f"status {health['status']}",
        f"catalog {health['catalog_files']} memories; index {health['indexed_files']} documents, "
        f"generation {index['generation']}, pending {index['pending']}, last sync {index['last_sync_at']}",
    ]
    if health["orphaned_files"]:
        lines.append(f"! {health['orphaned_files']} index documents do not match the catalog: run `aghmem reindex`")
    if index.get("dirty"):
        lines.append(f"  {index['dirty']} change(s) on their way into the index")
    lines += [f"! cannot take in {item['path']}: {item['error']}" for item in health["invalid_files"]]
    lines += [f"! quarantined {item['path']}: {item['reason']} [{item['rule']}]" for item in health.get("quarantined_files", [])]
    lines += [
        f"! workspace {ws['id']}: root {ws['path']} is missing; if it moved: `aghmem workspace move {ws['id']} NEWPATH`"
        for ws in health.get("missing_workspaces", [])
    ]
    lines += _compat_lines(health)
    mcp = health["mcp"]
    lines.append(f"MCP server: {mcp['url']}")
    if mcp["workspace_url"]:
        lines.append(f"MCP server for this directory's workspace ({mcp['workspace_id']}): {mcp['workspace_url']}")
    count = problems(health)
    lines.append("no problems found" if not count else f"{count} problem(s)")
    return "\n".join(lines)


def _compat_lines(health: dict[str, Any]) -> list[str]:
    """Memory configuration files that cannot be used, bindings to absent
    ones, key-value cards whose value cannot be read (COMPAT §2, §3)."""
    home = health.get("home") or "."
    lines = [f"! memory configuration {os.path.join(home, c['path'])}: {c['error']}" for c in health.get("invalid_configs", [])]
    lines += [
        f"! compat.cfg.bindings: {b['pattern']!r} names {b['config']}, which is absent or broken"
        for b in health.get("missing_config_bindings", [])
    ]
    return lines + [f"! {problem}" for problem in health.get("kv_problems", [])]


def add_commands(commands: Any) -> None:
    p = commands.add_parser("search", help="recall memories for a query", description="Recall memories for a query, best first.")
    p.add_argument("query", nargs="+", help="the words to look for")
    p.add_argument("--top-k", "-k", type=int, default=10, help="at most this many results (default: %(default)s)")
    p.add_argument("--why", action="store_true", help="show each result's score terms")
    p.add_argument("--include-system", action="store_true", help="also search the daemon's own files (_system/)")
    p.add_argument("--session", metavar="ID", help="session id (already surfaced memories are skipped)")
    add_selector(p)
    p.set_defaults(func=cmd_search)
    p = commands.add_parser(
        "reindex",
        help="scan the files and rebuild the index (a scope, or all)",
        description="Scan the memory files again and rebuild the index: of the scope given, else of every scope.",
    )
    add_selector(p, from_cwd=False)
    p.set_defaults(func=cmd_reindex)
    p = commands.add_parser(
        "doctor",
        help="invalid files, orphans, index state, the MCP URL",
        description="Check the catalog and the index, and print the MCP server's URL; exit 1 when there are problems.",
    )
    p.set_defaults(func=cmd_doctor)
