"""`aghmem decisions list|show|revert`, and how a decision's outcome reads
(every write command prints one)."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client
from .output import add_selector, emit, more, scope_label, selector, table


def render_outcome(result: dict[str, Any]) -> str:
    """What a write, edit, delete or revert did: the decision and its state."""
    d = result["decision"]
    state = "dry run" if result.get("dry_run") else ("applied" if result.get("applied", result.get("reverted")) else "not applied")
    if result.get("replay"):
        state += ", replay of an earlier request"
    where = f"  file {d['target_filename']}" if d.get("target_filename") else ""
    return f"{d['op']}: {d['reason']} ({state})\ndecision {d['id']}{where}"


def cmd_list(client: Client, args: argparse.Namespace) -> None:
    result = client.decisions(op=args.op, since=args.since, limit=args.limit, cursor=args.cursor, **selector(args))
    emit(args, result, render_list)


def render_list(result: dict[str, Any]) -> str:
    rows = [{**d, "where": scope_label(d)} for d in result["decisions"]]
    columns = [("id", "id"), ("decided_at", "decided"), ("op", "op"), ("origin", "origin"), ("where", "scope"),
               ("target_filename", "file"), ("reason", "reason")]
    return table(rows, columns, free_text={"reason"}) + more(result)


def cmd_show(client: Client, args: argparse.Namespace) -> None:
    emit(args, {"decision": client.decision(args.decision_id)}, render_show)


def render_show(result: dict[str, Any]) -> str:
    d = result["decision"]
    applied = f"applied {d['applied_at']}" if d["applied_at"] else "not applied"
    lines = [
        f"{d['id']}  {d['op']}  by {d['origin']}  at {d['decided_at']}  ({applied})",
        f"scope {scope_label(d)}  file {d.get('target_filename') or '-'}",
        f"reason: {d['reason']}",
        "rules:",
    ]
    for rule in d["rule_trace"]:
        mark = "ok  " if rule["passed"] else "FAIL"
        details = f" [{rule['details']}]" if rule.get("details") else ""
        lines.append(f"  {mark} {rule['name']}: {rule['reason']}{details}")
    return "\n".join(lines)


def cmd_revert(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.revert(args.decision_id, dry_run=args.dry_run), render_outcome)


def add_commands(commands: Any) -> None:
    decisions = commands.add_parser(
        "decisions", help="the controller's decision log", description="Every change to a memory is a decision: list, show, revert them."
    ).add_subparsers(dest="action", required=True)
    p = decisions.add_parser("list", help="decisions, newest first", description="Decisions, newest first.")
    add_selector(p, from_cwd=False)
    p.add_argument("--op", choices=["noop", "add", "update", "delete", "reject"], help="only decisions of this kind")
    p.add_argument("--since", metavar="TIME", help="only decisions made at or after TIME (ISO 8601, UTC)")
    p.add_argument("--limit", type=int, default=50, help="at most this many (default: %(default)s)")
    p.add_argument("--cursor", help="the page after this one (printed under a full page)")
    p.set_defaults(func=cmd_list)
    p = decisions.add_parser("show", help="one decision and the rules that made it", description="One decision and its rule trace.")
    p.add_argument("decision_id", metavar="ID", help="the decision's id (dec_…)")
    p.set_defaults(func=cmd_show)
    p = decisions.add_parser(
        "revert",
        help="undo an applied decision",
        description="Undo an applied decision, if the file is still as the decision left it.",
    )
    p.add_argument("decision_id", metavar="ID", help="the decision's id (dec_…)")
    p.add_argument("--dry-run", action="store_true", help="say what the revert would do, change nothing")
    p.set_defaults(func=cmd_revert)
