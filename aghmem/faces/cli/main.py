"""`aghmem`: run the daemon, or talk to a running one over HTTP.

    aghmem serve [--home DIR] [--host H] [--port P] [--config F]
    aghmem memory list|show|write|edit|delete …
    aghmem decisions list|show|revert …
    aghmem search QUERY | reindex | doctor
    aghmem scope-show | health | workspace add [PATH] | workspace list
    aghmem dream run|list|status|retry … | daily
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

from ...config import find_config_file, load_config
from ...errors import AghmemError
from ..client import Client
from .dream import add_commands as add_dream_commands
from .output import add_selector, scope_label, selector, table


def _print_decision_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
        return
    d = result["decision"]
    state = "dry run" if result.get("dry_run") else ("applied" if result.get("applied", result.get("reverted")) else "not applied")
    if result.get("replay"):
        state += ", replay of an earlier request"
    print(f"{d['op']}: {d['reason']} ({state})")
    print(f"decision {d['id']}" + (f"  file {d['target_filename']}" if d.get("target_filename") else ""))


# --- commands ---------------------------------------------------------------


def cmd_memory_list(client: Client, args: argparse.Namespace) -> None:
    result = client.list_memories(limit=args.limit, cursor=args.cursor, **selector(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(table(result["memories"], [("filename", "file"), ("type", "type"), ("name", "name"), ("mod_time", "modified")]))
    if result.get("next_cursor"):
        print(f"\nmore: --cursor {result['next_cursor']}")


def cmd_memory_show(client: Client, args: argparse.Namespace) -> None:
    memory, etag = client.get_memory(args.filename, **selector(args))
    if args.json:
        print(json.dumps({"memory": memory, "etag": etag}, indent=2))
        return
    summary = memory["summary"]
    print(f"# {summary['name']}  ({summary['type']}, {scope_label(summary)})")
    if summary.get("description"):
        print(summary["description"])
    print(f"file {summary['filename']}  modified {summary['mod_time']}  hash {etag[:12]}")
    print()
    print(memory["content"])


def _read_content(args: argparse.Namespace) -> str | None:
    if args.content is not None:
        return args.content
    if args.content_file is not None:
        return sys.stdin.read() if args.content_file == "-" else Path(args.content_file).read_text(encoding="utf-8")
    return None


def cmd_memory_write(client: Client, args: argparse.Namespace) -> None:
    content = _read_content(args)
    if content is None:
        raise AghmemError("give the memory's text with --content TEXT or --content-file FILE (- for stdin)")
    result = client.write(
        **selector(args),
        type=args.type,
        name=args.name,
        description=args.description,
        content=content,
        filename=args.filename,
        entity=args.entity,
        attribute=args.attribute,
        tags=args.tag or None,
        origin="cli",
        dry_run=args.dry_run or None,
    )
    _print_decision_result(args, result)


def cmd_memory_edit(client: Client, args: argparse.Namespace) -> None:
    memory, etag = client.get_memory(args.filename, **selector(args))
    fields: dict[str, Any] = {"origin": "cli"}
    for key in ("name", "description", "type"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    content = _read_content(args)
    if content is not None:
        fields["content"] = content
    if len(fields) == 1:
        content = _edit_in_editor(memory["content"])
        if content.strip() == memory["content"].strip():
            print("no change")
            return
        fields["content"] = content
    if args.dry_run:
        fields["dry_run"] = True
    _print_decision_result(args, client.patch(args.filename, fields, if_match=etag, **selector(args)))


def _edit_in_editor(text: str) -> str:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as handle:
        handle.write(text)
        path = handle.name
    try:
        subprocess.run([*editor.split(), path], check=True)
        return Path(path).read_text(encoding="utf-8")
    finally:
        os.unlink(path)


def cmd_memory_delete(client: Client, args: argparse.Namespace) -> None:
    _print_decision_result(args, client.delete(args.filename, dry_run=args.dry_run, **selector(args)))


def cmd_decisions_list(client: Client, args: argparse.Namespace) -> None:
    result = client.decisions(op=args.op, since=args.since, limit=args.limit, cursor=args.cursor, **selector(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rows = [{**d, "where": scope_label(d)} for d in result["decisions"]]
    print(
        table(
            rows,
            [("id", "id"), ("decided_at", "decided"), ("op", "op"), ("origin", "origin"), ("where", "scope"), ("target_filename", "file"), ("reason", "reason")],
        )
    )
    if result.get("next_cursor"):
        print(f"\nmore: --cursor {result['next_cursor']}")


def cmd_decisions_show(client: Client, args: argparse.Namespace) -> None:
    d = client.decision(args.decision_id)
    if args.json:
        print(json.dumps({"decision": d}, indent=2))
        return
    print(f"{d['id']}  {d['op']}  by {d['origin']}  at {d['decided_at']}  ({'applied ' + d['applied_at'] if d['applied_at'] else 'not applied'})")
    print(f"scope {scope_label(d)}  file {d.get('target_filename') or '-'}")
    print(f"reason: {d['reason']}")
    print("rules:")
    for rule in d["rule_trace"]:
        mark = "ok  " if rule["passed"] else "FAIL"
        print(f"  {mark} {rule['name']}: {rule['reason']}" + (f" [{rule['details']}]" if rule.get("details") else ""))


def cmd_decisions_revert(client: Client, args: argparse.Namespace) -> None:
    _print_decision_result(args, client.revert(args.decision_id, dry_run=args.dry_run))


def cmd_search(client: Client, args: argparse.Namespace) -> None:
    result = client.search(
        " ".join(args.query),
        top_k=args.top_k,
        mode="explicit",
        include_system=args.include_system or None,
        session_id=args.session,
        **{k: v for k, v in selector(args).items() if v},
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if not result["results"]:
        reason = ": ".join(r for r in (result.get("skipped_reason"), result.get("note")) if r)
        print("no memories found" + (f" ({reason})" if reason else ""))
        return
    for rank, item in enumerate(result["results"], 1):
        memory = item["memory"]
        shadow = f"  [shadowed by {item['shadowed_by']}]" if item.get("shadowed_by") else ""
        print(f"{rank}. {memory['name']}  ({memory['type']}, {scope_label(memory)}, {memory['filename']}){shadow}")
        print(f"   {item['snippet']}")
        if args.why:
            print(f"   why: {'; '.join(item['why_recalled'])}  score {item['score']:.3f}")
        if memory.get("staleness_banner"):
            print(f"   ! {memory['staleness_banner']}")
    index = result["index"]
    print(f"\nindex generation {index['generation']}, last sync {index['last_sync_at']}")


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
    if args.json:
        print(json.dumps(outcome, indent=2))
        return
    print(f"reindexed {outcome['indexed_files']} memories ({scope_label(outcome)}) at {outcome['completed_at']}")


def cmd_doctor(client: Client, args: argparse.Namespace) -> None:
    health = client.health()
    if args.json:
        print(json.dumps(health, indent=2))
        return
    index = health["index"]
    problems = 0
    print(f"status {health['status']}")
    print(f"catalog {health['catalog_files']} memories; index {health['indexed_files']} documents, "
          f"generation {index['generation']}, pending {index['pending']}, last sync {index['last_sync_at']}")
    if health["orphaned_files"]:
        problems += 1
        print(f"! {health['orphaned_files']} index documents do not match the catalog: run `aghmem reindex`")
    if index.get("dirty"):
        print(f"  {index['dirty']} change(s) on their way into the index")
    for item in health["invalid_files"]:
        problems += 1
        print(f"! cannot take in {item['path']}: {item['error']}")
    for item in health.get("quarantined_files", []):
        problems += 1
        print(f"! quarantined {item['path']}: {item['reason']} [{item['rule']}]")
    print("no problems found" if not problems else f"{problems} problem(s)")
    if problems:
        raise SystemExit(1)


def cmd_scope_show(client: Client, args: argparse.Namespace) -> None:
    result = client.scope_show(**selector(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"selector: {scope_label(result['selector'])}")
    print("precedence (deepest wins):")
    for item in result["precedence"]:
        print(f"  {scope_label(item)}")
    print("directories:")
    for label, path in result["roots"].items():
        print(f"  {label:16} {path}")


def cmd_health(client: Client, args: argparse.Namespace) -> None:
    result = client.health()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"status {result['status']}" + (f": {result['reason']}" if result.get("reason") else ""))
    for key in ("home", "indexed_files", "global_files", "workspace_count", "workspace_files", "operation_count", "last_operation_at"):
        print(f"  {key:18} {result.get(key)}")
    for item in result.get("invalid_files", []):
        print(f"  invalid: {item['path']}: {item['error']}")
    for item in result.get("quarantined_files", []):
        print(f"  quarantined: {item['path']}: {item['reason']}")


def cmd_workspace_add(client: Client, args: argparse.Namespace) -> None:
    path = os.path.abspath(args.path or os.getcwd())
    result = client.add_workspace(path)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    ws = result["workspace"]
    print(f"{'registered' if result['created'] else 'already registered'}: {ws['id']}  {ws['path']}")


def cmd_workspace_list(client: Client, args: argparse.Namespace) -> None:
    workspaces = client.workspaces()
    if args.json:
        print(json.dumps({"workspaces": workspaces}, indent=2))
        return
    print(table(workspaces, [("id", "id"), ("path", "path"), ("added_at", "added")]))


# --- parser -------------------------------------------------------------------


def _add_content(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", "-c", help="the memory's text")
    parser.add_argument("--content-file", "-f", help="read the text from FILE (- for stdin)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aghmem", description="Local memory daemon for coding agents.")
    parser.add_argument("--url", help="daemon URL (default: $AGHMEM_URL, else host/port from the config)")
    parser.add_argument("--token", help="bearer token (default: $AGHMEM_TOKEN or server.token)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the daemon")
    serve.add_argument("--home", help="memory home (default $AGHMEM_HOME or ~/.aghmem)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--config", help="config file (default HOME/config.toml)")

    memory = commands.add_parser("memory", help="list, show, write, edit, delete memories").add_subparsers(dest="action", required=True)
    p = memory.add_parser("list")
    add_selector(p)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--cursor")
    p.set_defaults(func=cmd_memory_list)
    p = memory.add_parser("show")
    p.add_argument("filename")
    add_selector(p)
    p.set_defaults(func=cmd_memory_show)
    p = memory.add_parser("write")
    p.add_argument("--type", "-t", required=True, choices=["user", "feedback", "project", "reference"])
    p.add_argument("--name", "-n")
    p.add_argument("--description", "-d")
    _add_content(p)
    p.add_argument("--filename")
    p.add_argument("--entity")
    p.add_argument("--attribute")
    p.add_argument("--tag", action="append")
    p.add_argument("--dry-run", action="store_true")
    add_selector(p)
    p.set_defaults(func=cmd_memory_write)
    p = memory.add_parser("edit", help="change fields, or open the text in $EDITOR")
    p.add_argument("filename")
    p.add_argument("--name", "-n")
    p.add_argument("--description", "-d")
    p.add_argument("--type", "-t", choices=["user", "feedback", "project", "reference"])
    _add_content(p)
    p.add_argument("--dry-run", action="store_true")
    add_selector(p)
    p.set_defaults(func=cmd_memory_edit)
    p = memory.add_parser("delete")
    p.add_argument("filename")
    p.add_argument("--dry-run", action="store_true")
    add_selector(p)
    p.set_defaults(func=cmd_memory_delete)

    decisions = commands.add_parser("decisions", help="the controller's decision log").add_subparsers(dest="action", required=True)
    p = decisions.add_parser("list")
    add_selector(p)
    p.add_argument("--op", choices=["noop", "add", "update", "delete", "reject"])
    p.add_argument("--since")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor")
    p.set_defaults(func=cmd_decisions_list)
    p = decisions.add_parser("show")
    p.add_argument("decision_id")
    p.set_defaults(func=cmd_decisions_show)
    p = decisions.add_parser("revert")
    p.add_argument("decision_id")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_decisions_revert)

    p = commands.add_parser("search", help="recall memories for a query")
    p.add_argument("query", nargs="+")
    p.add_argument("--top-k", "-k", type=int, default=10)
    p.add_argument("--why", action="store_true", help="show each result's score terms")
    p.add_argument("--include-system", action="store_true")
    p.add_argument("--session", help="session id (already surfaced memories are skipped)")
    add_selector(p)
    p.set_defaults(func=cmd_search)
    p = commands.add_parser("reindex", help="scan the files and rebuild the index (a scope, or all)")
    add_selector(p)
    p.set_defaults(func=cmd_reindex)
    p = commands.add_parser("doctor", help="invalid files, orphans, index state")
    p.set_defaults(func=cmd_doctor)

    p = commands.add_parser("scope-show", help="what a selector sees")
    add_selector(p)
    p.set_defaults(func=cmd_scope_show)
    p = commands.add_parser("health", help="daemon health")
    p.set_defaults(func=cmd_health)

    workspace = commands.add_parser("workspace", help="register workspaces").add_subparsers(dest="action", required=True)
    p = workspace.add_parser("add", help="register PATH (default: the current directory)")
    p.add_argument("path", nargs="?")
    p.set_defaults(func=cmd_workspace_add)
    p = workspace.add_parser("list")
    p.set_defaults(func=cmd_workspace_list)
    add_dream_commands(commands)
    return parser


def daemon_url(args: argparse.Namespace) -> tuple[str, str | None]:
    """--url, else $AGHMEM_URL, else host/port from the config ($AGHMEM_PORT)."""
    config = load_config()
    token = args.token or config.server.token or None
    if args.url:
        return args.url, token
    if os.environ.get("AGHMEM_URL"):
        return os.environ["AGHMEM_URL"], token
    host = config.server.host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{config.server.port}", token


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from ..server import serve

            config = load_config(args.config, home=args.home)
            if args.host:
                config.server.host = args.host
            if args.port is not None:
                config.server.port = args.port
            serve(config, find_config_file(args.config, home=config.home))
            return 0
        url, token = daemon_url(args)
        args.token_value = token
        with Client(url, token=token) as client:
            args.func(client, args)
        return 0
    except AghmemError as exc:
        if args.json and exc.code != "client.unavailable":
            print(json.dumps({"code": exc.code, "message": exc.message, "details": exc.details}), file=sys.stderr)
        else:
            print(f"aghmem: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
