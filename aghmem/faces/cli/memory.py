"""`aghmem memory list|show|write|edit|delete`."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ...errors import AghmemError, NotFound, ValidationError
from ..client import Client
from .decisions import render_outcome
from .output import add_selector, emit, more, scope_label, selector, table

TYPES = ["user", "feedback", "project", "reference"]
GLOBAL_TYPES = ("user", "feedback")


class EditorError(AghmemError):
    """No editor can run, or the one that ran failed: nothing was saved."""

    code = "cli.editor"


def cmd_list(client: Client, args: argparse.Namespace) -> None:
    emit(args, client.list_memories(limit=args.limit, cursor=args.cursor, **selector(args)), render_list)


def render_list(result: dict[str, Any]) -> str:
    columns = [("filename", "file"), ("type", "type"), ("name", "name"), ("mod_time", "modified")]
    return table(result["memories"], columns, free_text={"name"}) + more(result)


def cmd_show(client: Client, args: argparse.Namespace) -> None:
    memory, etag = client.get_memory(args.filename, **selector(args))
    emit(args, {"memory": memory, "etag": etag}, render_show)


def render_show(result: dict[str, Any]) -> str:
    summary = result["memory"]["summary"]
    lines = [f"# {summary['name']}  ({summary['type']}, {scope_label(summary)})"]
    if summary.get("description"):
        lines.append(summary["description"])
    lines += [f"file {summary['filename']}  modified {summary['mod_time']}  hash {result['etag'][:12]}", "", result["memory"]["content"]]
    return "\n".join(lines)


def _read_content(args: argparse.Namespace) -> str | None:
    if args.content is not None:
        return args.content
    if args.content_file is None:
        return None
    where = "stdin" if args.content_file == "-" else f"--content-file {args.content_file}"
    try:
        return sys.stdin.buffer.read().decode("utf-8") if args.content_file == "-" else Path(args.content_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read {where}: {exc.strerror}", field="content_file") from None
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{where} is not UTF-8 text (byte {exc.start + 1} is not)", field="content_file") from None


def _write_selector(args: argparse.Namespace) -> dict[str, str | None]:
    """As on the HTTP API and MCP, a user or feedback memory given no scope is
    global: the workspace of the current directory does not claim it."""
    if args.workspace_found_in_cwd and args.type in GLOBAL_TYPES and not (args.scope or args.agent):
        return {**selector(args), "workspace_id": None}
    return selector(args)


def cmd_write(client: Client, args: argparse.Namespace) -> None:
    content = _read_content(args)
    if content is None:
        raise AghmemError("give the memory's text with --content TEXT or --content-file FILE (- for stdin)")
    result = client.write(
        **_write_selector(args),
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
    emit(args, result, render_outcome)


def cmd_edit(client: Client, args: argparse.Namespace) -> None:
    memory, etag = client.get_memory(args.filename, **selector(args))
    fields: dict[str, Any] = {key: getattr(args, key) for key in ("name", "description", "type") if getattr(args, key) is not None}
    content = _read_content(args)
    if content is not None:
        fields["content"] = content
    if not fields:
        content = edit_in_editor(memory["content"])
        if content.strip() == memory["content"].strip():
            emit(args, {"changed": False}, lambda _: "no change")
            return
        fields["content"] = content
    fields["origin"] = "cli"
    if args.dry_run:
        fields["dry_run"] = True
    emit(args, client.patch(args.filename, fields, if_match=etag, **selector(args)), render_outcome)


def edit_in_editor(text: str) -> str:
    """`text` as the user leaves it in $VISUAL / $EDITOR (default vi)."""
    if not sys.stdin.isatty():
        raise EditorError("no terminal to run an editor in: give the new text with --content TEXT or --content-file FILE (- for stdin)")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", delete=False, encoding="utf-8") as handle:
        handle.write(text)
        path = handle.name
    try:
        try:
            code = subprocess.run([*shlex.split(editor), path]).returncode
        except OSError as exc:
            raise EditorError(f"cannot run the editor {editor!r}: {exc.strerror or exc}; nothing saved") from None
        if code != 0:
            raise EditorError(f"the editor {editor!r} exited with status {code}; nothing saved")
        return Path(path).read_text(encoding="utf-8")
    finally:
        os.unlink(path)


def cmd_delete(client: Client, args: argparse.Namespace) -> None:
    result = client.delete(args.filename, dry_run=args.dry_run, **selector(args))
    decision = result["decision"]
    if decision["op"] == "noop":
        # The daemon records a delete of a missing file as a no-op (200); for
        # the command it is a failure, as `rm` of a missing file is.
        raise NotFound(decision["reason"], decision=decision)
    emit(args, result, render_outcome)


def _add_content(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--content", "-c", metavar="TEXT", help="the memory's text")
    parser.add_argument("--content-file", "-f", metavar="FILE", help="read the text from FILE (- for stdin)")


def _add_fields(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--type", "-t", required=required, choices=TYPES, help="the kind of memory")
    parser.add_argument("--name", "-n", help="a short title (the filename is made from it)")
    parser.add_argument("--description", "-d", help="one line on what the memory is for")
    _add_content(parser)


def add_commands(commands: Any) -> None:
    memory = commands.add_parser(
        "memory", help="list, show, write, edit, delete memories", description="The memory files of a scope."
    ).add_subparsers(dest="action", required=True)
    p = memory.add_parser("list", help="a scope's memories, newest first", description="A scope's memories, newest first.")
    add_selector(p)
    p.add_argument("--limit", type=int, default=100, help="at most this many (default: %(default)s)")
    p.add_argument("--cursor", help="the page after this one (printed under a full page)")
    p.set_defaults(func=cmd_list)
    p = memory.add_parser("show", help="one memory: its fields and text", description="One memory: its fields and text.")
    p.add_argument("filename", help="the memory's file name, e.g. user_prefers_tabs.md")
    add_selector(p)
    p.set_defaults(func=cmd_show)
    p = memory.add_parser(
        "write", help="write a memory through the controller", description="Write a memory; the controller decides add, update or reject."
    )
    _add_fields(p, required=True)
    p.add_argument("--filename", help="the file to write (default: made from the type and name)")
    p.add_argument("--entity", help="what the memory is about; a new value for the same --entity and --attribute updates the old one")
    p.add_argument("--attribute", help="which property of --entity the memory states")
    p.add_argument("--tag", action="append", help="a tag (repeat for more)")
    p.add_argument("--dry-run", action="store_true", help="say what the controller would decide, change nothing")
    add_selector(p)
    p.set_defaults(func=cmd_write)
    p = memory.add_parser(
        "edit",
        help="change fields, or open the text in $EDITOR",
        description="Change the given fields; with none, open the text in $VISUAL or $EDITOR (needs a terminal).",
    )
    p.add_argument("filename", help="the memory's file name")
    _add_fields(p, required=False)
    p.add_argument("--dry-run", action="store_true", help="say what the controller would decide, change nothing")
    add_selector(p)
    p.set_defaults(func=cmd_edit)
    p = memory.add_parser("delete", help="delete a memory (a decision you can revert)", description="Delete a memory.")
    p.add_argument("filename", help="the memory's file name")
    p.add_argument("--dry-run", action="store_true", help="say what the controller would decide, change nothing")
    add_selector(p)
    p.set_defaults(func=cmd_delete)
