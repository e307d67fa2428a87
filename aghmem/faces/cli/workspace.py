"""`aghmem workspace add|list|move|remove`, `aghmem scope-show`, `aghmem health`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..client import Client
from .output import add_selector, emit, scope_label, selector, table

HEALTH_KEYS = ("home", "indexed_files", "global_files", "workspace_count", "workspace_files", "operation_count", "last_operation_at")


def cmd_scope_show(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.scope_show(**selector(args)), render_scope_show)


def render_scope_show(result: dict[str, Any]) -> str:
    lines = [f"selector: {scope_label(result['selector'])}", "precedence (deepest wins):"]
    lines += [f"  {scope_label(item)}" for item in result["precedence"]]
    lines.append("directories:")
    lines += [f"  {label:16} {path}" for label, path in result["roots"].items()]
    return "\n".join(lines)


def cmd_health(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.health(), render_health)


def render_health(result: dict[str, Any]) -> str:
    lines = [f"status {result['status']}" + (f": {result['reason']}" if result.get("reason") else "")]
    lines += [f"  {key:18} {result.get(key)}" for key in HEALTH_KEYS]
    lines += [f"  invalid: {item['path']}: {item['error']}" for item in result.get("invalid_files", [])]
    lines += [f"  quarantined: {item['path']}: {item['reason']}" for item in result.get("quarantined_files", [])]
    return "\n".join(lines)


def cmd_workspace_add(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.add_workspace(os.path.abspath(args.path or os.getcwd()), gitignore=not args.no_gitignore), render_workspace_add)


def render_workspace_add(result: dict[str, Any]) -> str:
    ws = result["workspace"]
    line = f"{'registered' if result['created'] else 'already registered'}: {ws['id']}  {ws['path']}"
    if ws.get("gitignore_written"):
        line += "\nwrote .agh/.gitignore: commit .agh/workspace.toml and the memories; tmp/, MEMORY.md, _system/ and _inbox/ stay local"
    return line


def cmd_workspace_list(client: Client, args: argparse.Namespace) -> None:
    emit(args, {"workspaces": client.workspaces()}, render_workspace_list)


def render_workspace_list(result: dict[str, Any]) -> str:
    rows = [{**ws, "state": "MISSING" if ws.get("missing") else "ok"} for ws in result["workspaces"]]
    return table(rows, [("id", "id"), ("state", "root"), ("path", "path"), ("added_at", "added")])


def cmd_workspace_move(client: Client, args: argparse.Namespace) -> None:
    moved = client.move_workspace(args.workspace_id, os.path.abspath(args.path))
    emit(args, moved, lambda r: f"moved: {r['workspace']['id']}  {r['workspace']['path']}")


def cmd_workspace_remove(client: Client, args: argparse.Namespace) -> None:
    removed = client.remove_workspace(args.workspace_id)
    emit(args, removed, lambda r: f"removed: {r['workspace']['id']} ({r['forgotten']} memories left the index; files untouched)")


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "scope-show",
        help="what a selector sees",
        description="The scope a selector names, the scopes it sees (deepest wins) and their directories.",
    )
    add_selector(p)
    p.set_defaults(func=cmd_scope_show)
    p = commands.add_parser("health", help="daemon health", description="What the daemon holds and how it is doing.")
    p.set_defaults(func=cmd_health)

    workspace = commands.add_parser(
        "workspace", help="register workspaces", description="Workspaces: project directories with their own memories (.agh/)."
    ).add_subparsers(dest="action", required=True)
    p = workspace.add_parser("add", help="register PATH (default: the current directory)", description="Register a workspace.")
    p.add_argument("path", nargs="?", help="the project directory (default: the current directory)")
    p.add_argument("--no-gitignore", action="store_true", help="do not write .agh/.gitignore (it is written only when absent)")
    p.set_defaults(func=cmd_workspace_add)
    p = workspace.add_parser("list", help="the registered workspaces", description="The registered workspaces.")
    p.set_defaults(func=cmd_workspace_list)
    p = workspace.add_parser(
        "move", help="a workspace's root moved: point it at PATH", description="Point a workspace at its new root (after `mv`)."
    )
    p.add_argument("workspace_id", metavar="ID", help="the workspace (ws_…)")
    p.add_argument("path", help="its new root directory")
    p.set_defaults(func=cmd_workspace_move)
    p = workspace.add_parser(
        "remove", help="forget a workspace (files stay)", description="Forget a workspace: its memories leave the index; files stay on disk."
    )
    p.add_argument("workspace_id", metavar="ID", help="the workspace (ws_…)")
    p.set_defaults(func=cmd_workspace_remove)
