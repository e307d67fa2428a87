"""What the CLI's commands share: the daemon's URL, the one --json/text
switch, tables, scope labels, selector options and the workspace of the
current directory.

Every command ends in `emit(args, result, render)`: with --json the result
as the daemon sent it, else the text `render(result)` returns.
"""

from __future__ import annotations

import argparse
import json
import os
import unicodedata
from typing import Any, Callable, Collection, Sequence

from ...errors import AghmemError, NotFound
from ..client import Client

# A column listed as free text is cut to this many cells; ids, filenames and
# paths never are (a cut one could not be copied into the next command).
MAX_FREE_TEXT = 60


def emit(args: argparse.Namespace, result: Any, render: Callable[[Any], str]) -> None:
    """Print `result` as JSON with --json, else the text `render` makes of it
    (nothing when that is empty)."""
    if args.json:
        print(json.dumps(result, indent=2))
    elif text := render(result):
        print(text)


def width(text: str) -> int:
    """Terminal cells `text` takes: wide and full-width characters (CJK) take
    two, combining marks none."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text
    )


def pad(text: str, cells: int) -> str:
    return text + " " * max(0, cells - width(text))


def cut(text: str, cells: int) -> str:
    """`text` in at most `cells` cells, ending in "…" when cut."""
    if width(text) <= cells:
        return text
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > cells - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], free_text: Collection[str] = ()) -> str:
    """A plain aligned table; `columns` are (key, heading). Only the columns
    named in `free_text` (reasons, names) are cut to MAX_FREE_TEXT cells."""
    if not rows:
        return "(none)"
    cells = [[_cell(row, key, key in free_text) for key, _ in columns] for row in rows]
    widths = [max(len(heading), *(width(c[i]) for c in cells)) for i, (_, heading) in enumerate(columns)]
    lines = ["  ".join(pad(h.upper(), w) for (_, h), w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(pad(v, w) for v, w in zip(c, widths)).rstrip() for c in cells]
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str, free: bool) -> str:
    text = str(row[key]) if row.get(key) is not None else ""
    return cut(text, MAX_FREE_TEXT) if free else text


def more(result: dict[str, Any]) -> str:
    """The line that tells how to get the next page, if there is one."""
    return f"\n\nmore: --cursor {result['next_cursor']}" if result.get("next_cursor") else ""


def gates(items: dict[str, dict[str, Any]]) -> list[str]:
    """A dream's gates, one line each."""
    return [f"  {'ok  ' if gate['ok'] else 'shut'} {name}: {gate['detail']}" for name, gate in items.items()]


def scope_label(item: dict[str, Any]) -> str:
    scope = item.get("scope")
    if scope == "workspace":
        return f"workspace:{item.get('workspace_id')}"
    if scope == "agent":
        where = item.get("workspace_id") if item.get("agent_tier") == "workspace" else "global"
        return f"agent:{item.get('agent_name')}@{where}"
    return "global"


def selector(args: argparse.Namespace) -> dict[str, str | None]:
    return {
        "scope": args.scope,
        "workspace_id": args.workspace_id,
        "agent_name": args.agent,
        "agent_tier": args.tier,
    }


def add_selector(parser: argparse.ArgumentParser, *, from_cwd: bool = True) -> None:
    """The scope options. With `from_cwd`, a command given neither -w nor
    --scope global works in the workspace of the current directory (for the
    others, no selector means every scope)."""
    where = "the registered workspace holding the current directory" if from_cwd else "none"
    group = parser.add_argument_group("scope")
    group.add_argument(
        "--scope",
        choices=["global", "workspace", "agent"],
        help="the scope; without it: agent if --agent is given, else workspace if -w is given (or found), else global",
    )
    group.add_argument("--workspace-id", "-w", dest="workspace_id", metavar="ID", help=f"a registered workspace (ws_…; default: {where})")
    group.add_argument("--agent", "-a", metavar="NAME", help="an agent's own memories")
    group.add_argument(
        "--tier",
        choices=["workspace", "global"],
        help="where the agent's memories live (default: workspace when -w is given or found, else global)",
    )
    parser.set_defaults(workspace_from_cwd=from_cwd, workspace_found_in_cwd=False)


def fill_workspace(client: Client, args: argparse.Namespace) -> None:
    """-w from the current directory: the registered root holding it, as the
    daemon resolves it for MCP and hooks (one resolver for all three). Not
    when -w, --scope global or --tier global says otherwise."""
    if not getattr(args, "workspace_from_cwd", False) or args.workspace_id or "global" in (args.scope, args.tier):
        return
    workspace = client.resolve_workspace(os.getcwd())
    if workspace is not None:
        args.workspace_id = workspace["id"]
        args.workspace_found_in_cwd = True


def workspace_hint(args: argparse.Namespace, exc: AghmemError) -> str:
    """What to add to a "not found" when the workspace came from the
    current directory: the memory may well be a global one."""
    if isinstance(exc, NotFound) and getattr(args, "workspace_found_in_cwd", False):
        return f" (looked in workspace {args.workspace_id}, the current directory's; add --scope global for a global memory)"
    return ""
