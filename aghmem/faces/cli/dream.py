"""`aghmem dream run|list|status|retry` and `aghmem daily`."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import Client
from .output import add_selector, emit, gates, scope_label, selector, table


def render_trigger(result: dict[str, Any]) -> str:
    lines = [f"{'triggered' if result['triggered'] else 'not triggered'}: {result['reason']}", *gates(result.get("gates", {}))]
    if result.get("candidates"):
        rows = [
            {**c, "verdict": ("keep: " if c["keep"] else "drop: ") + c["reason"], "recalls": f"{c['recall_count']}/{c['query_count']}"}
            for c in result["candidates"]
        ]
        columns = [("filename", "memory"), ("score", "score"), ("recalls", "recalls/queries"), ("verdict", "verdict")]
        lines += ["", table(rows, columns, free_text={"verdict"})]
    dream = result.get("dream")
    if dream:
        lines.append(f"\ndream {dream['id']}: {dream['status']}, {dream['promoted_count']} of {dream['candidate_count']} promoted")
        lines += [f"  {path}" for path in dream["artifact_paths"]]
        if dream.get("failure_reason"):
            lines.append(f"  failed: {dream['failure_reason']} ({dream['failure_path']})")
    return "\n".join(lines)


def cmd_dream_run(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.trigger_dream(force=args.force, dry_run=args.dry_run, **selector(args)), render_trigger)


def cmd_dream_retry(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.retry_dream(args.dream_id), render_trigger)


def cmd_dream_list(client: Client, args: argparse.Namespace) -> None:
    emit(args, {"dreams": client.dreams(status=args.status, limit=args.limit, **selector(args))}, render_dream_list)


def render_dream_list(result: dict[str, Any]) -> str:
    rows = [{**d, "where": scope_label(d), "promoted": f"{d['promoted_count']}/{d['candidate_count']}"} for d in result["dreams"]]
    columns = [("id", "id"), ("started_at", "started"), ("status", "status"), ("where", "scope"),
               ("promoted", "promoted"), ("trigger", "trigger"), ("reason", "reason")]
    return table(rows, columns, free_text={"reason"})


def cmd_dream_status(client: Client, args: argparse.Namespace) -> None:
    emit(args, {"dreams": client.dream_status(**selector(args))}, render_dream_status)


def render_dream_status(result: dict[str, Any]) -> str:
    lines = []
    for d in result["dreams"]:
        lines.append(f"{scope_label(d)}: {d['status']}" + (f" ({d['id']}, {d['started_at']})" if d["id"] else ""))
        lines += gates(d["gates"])
    return "\n".join(lines)


def cmd_daily(client: Client, args: argparse.Namespace) -> None:
    emit(args, {"logs": client.daily_logs(date=args.date, limit=args.limit, **selector(args))}, render_daily)


def render_daily(result: dict[str, Any]) -> str:
    rows = [{**log, "where": scope_label(log)} for log in result["logs"]]
    return table(rows, [("date", "date"), ("seq", "seq"), ("where", "scope"), ("operation_count", "operations"), ("path", "path")])


def add_commands(commands: Any) -> None:
    dream = commands.add_parser(
        "dream",
        help="promote what agents keep recalling",
        description="Dreams: promote the memories agents keep recalling into a synthesis memory.",
    ).add_subparsers(dest="action", required=True)
    p = dream.add_parser("run", help="run a dream now (the gates decide, unless --force)", description="Run a dream now, if its gates are open.")
    p.add_argument("--force", action="store_true", help="skip the time and session gates")
    p.add_argument("--dry-run", action="store_true", help="score the candidates, change nothing")
    add_selector(p)
    p.set_defaults(func=cmd_dream_run)
    p = dream.add_parser("list", help="past runs, newest first", description="Past dream runs, newest first.")
    p.add_argument("--status", choices=["running", "promoted", "skipped", "failed"], help="only runs in this state")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default: %(default)s)")
    add_selector(p, from_cwd=False)
    p.set_defaults(func=cmd_dream_list)
    p = dream.add_parser("status", help="each scope's last run and its gates now", description="Each scope's last run and its gates now.")
    add_selector(p, from_cwd=False)
    p.set_defaults(func=cmd_dream_status)
    p = dream.add_parser("retry", help="run a failed dream again", description="Run a failed dream again.")
    p.add_argument("dream_id", metavar="ID", help="the failed dream's id (dream_…)")
    p.set_defaults(func=cmd_dream_retry)

    p = commands.add_parser(
        "daily", help="daily logs: one line per applied decision", description="Daily logs: one line per applied decision."
    )
    p.add_argument("--date", help="only this day's logs (YYYY-MM-DD)")
    p.add_argument("--limit", type=int, default=30, help="at most this many logs (default: %(default)s)")
    add_selector(p, from_cwd=False)
    p.set_defaults(func=cmd_daily)
