"""`aghmem dream run|list|status|retry` and `aghmem daily`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..client import Client
from .output import add_selector, scope_label, selector, table


def _print_trigger(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
        return
    dream = result.get("dream")
    print(f"{'triggered' if result['triggered'] else 'not triggered'}: {result['reason']}")
    for name, gate in result.get("gates", {}).items():
        print(f"  {'ok  ' if gate['ok'] else 'shut'} {name}: {gate['detail']}")
    if result.get("candidates"):
        rows = [
            {**c, "verdict": ("keep: " if c["keep"] else "drop: ") + c["reason"], "recalls": f"{c['recall_count']}/{c['query_count']}"}
            for c in result["candidates"]
        ]
        print()
        print(table(rows, [("filename", "memory"), ("score", "score"), ("recalls", "recalls/queries"), ("verdict", "verdict")]))
    if dream:
        print(f"\ndream {dream['id']}: {dream['status']}, {dream['promoted_count']} of {dream['candidate_count']} promoted")
        for path in dream["artifact_paths"]:
            print(f"  {path}")
        if dream.get("failure_reason"):
            print(f"  failed: {dream['failure_reason']} ({dream['failure_path']})")


def cmd_dream_run(client: Client, args: argparse.Namespace) -> None:
    _print_trigger(args, client.trigger_dream(force=args.force, dry_run=args.dry_run, **selector(args)))


def cmd_dream_retry(client: Client, args: argparse.Namespace) -> None:
    _print_trigger(args, client.retry_dream(args.dream_id))


def cmd_dream_list(client: Client, args: argparse.Namespace) -> None:
    dreams = client.dreams(status=args.status, limit=args.limit, **selector(args))
    if args.json:
        print(json.dumps({"dreams": dreams}, indent=2))
        return
    rows = [{**d, "where": scope_label(d), "promoted": f"{d['promoted_count']}/{d['candidate_count']}"} for d in dreams]
    print(table(rows, [("id", "id"), ("started_at", "started"), ("status", "status"), ("where", "scope"),
                       ("promoted", "promoted"), ("trigger", "trigger"), ("reason", "reason")]))


def cmd_dream_status(client: Client, args: argparse.Namespace) -> None:
    dreams = client.dream_status(**selector(args))
    if args.json:
        print(json.dumps({"dreams": dreams}, indent=2))
        return
    for d in dreams:
        print(f"{scope_label(d)}: {d['status']}" + (f" ({d['id']}, {d['started_at']})" if d["id"] else ""))
        for name, gate in d["gates"].items():
            print(f"  {'ok  ' if gate['ok'] else 'shut'} {name}: {gate['detail']}")


def cmd_daily(client: Client, args: argparse.Namespace) -> None:
    logs = client.daily_logs(date=args.date, limit=args.limit, **selector(args))
    if args.json:
        print(json.dumps({"logs": logs}, indent=2))
        return
    rows = [{**log, "where": scope_label(log)} for log in logs]
    print(table(rows, [("date", "date"), ("seq", "seq"), ("where", "scope"), ("operation_count", "operations"), ("path", "path")]))


def add_commands(commands: Any) -> None:
    dream = commands.add_parser("dream", help="promote what agents keep recalling").add_subparsers(dest="action", required=True)
    p = dream.add_parser("run", help="run a dream now (the gates decide, unless --force)")
    p.add_argument("--force", action="store_true", help="skip the time and session gates")
    p.add_argument("--dry-run", action="store_true", help="score the candidates, change nothing")
    add_selector(p)
    p.set_defaults(func=cmd_dream_run)
    p = dream.add_parser("list", help="past runs, newest first")
    p.add_argument("--status", choices=["running", "promoted", "skipped", "failed"])
    p.add_argument("--limit", type=int, default=20)
    add_selector(p)
    p.set_defaults(func=cmd_dream_list)
    p = dream.add_parser("status", help="each scope's last run and its gates now")
    add_selector(p)
    p.set_defaults(func=cmd_dream_status)
    p = dream.add_parser("retry", help="run a failed dream again")
    p.add_argument("dream_id")
    p.set_defaults(func=cmd_dream_retry)

    p = commands.add_parser("daily", help="daily logs: one line per applied decision")
    p.add_argument("--date", help="YYYY-MM-DD")
    p.add_argument("--limit", type=int, default=30)
    add_selector(p)
    p.set_defaults(func=cmd_daily)
