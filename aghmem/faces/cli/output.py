"""What the CLI's commands share: tables, scope labels, selector options."""

from __future__ import annotations

import argparse
from typing import Any, Sequence


def table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain aligned table; `columns` are (key, heading)."""
    if not rows:
        return "(none)"
    cells = [[str(row.get(key) if row.get(key) is not None else "") for key, _ in columns] for row in rows]
    widths = [max(len(heading), *(len(c[i]) for c in cells)) for i, (_, heading) in enumerate(columns)]
    widths = [min(w, 60) for w in widths]
    lines = ["  ".join(h.upper().ljust(w) for (_, h), w in zip(columns, widths)).rstrip()]
    for c in cells:
        lines.append("  ".join((v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(c, widths)).rstrip())
    return "\n".join(lines)


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


def add_selector(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scope")
    group.add_argument("--scope", choices=["global", "workspace", "agent"])
    group.add_argument("--workspace-id", "-w", dest="workspace_id")
    group.add_argument("--agent", "-a")
    group.add_argument("--tier", choices=["workspace", "global"])
